//! Random Lisp-shaped text for the crate's property tests: pieces that stress the places
//! where positions and tokens go wrong (line breaks of every kind, multi-byte and astral
//! characters, unclosed strings and block comments, quote marks).

/// A small deterministic generator (xorshift), so a failure reproduces from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// `count` random pieces, joined.
    pub fn text(&mut self, count: usize) -> String {
        (0..count).map(|_| PIECES[self.below(PIECES.len())]).collect()
    }
}

const PIECES: &[&str] = &[
    "(",
    ")",
    " ",
    "\n",
    "\r\n",
    "\r",
    "x",
    "42",
    "\"s\"",
    "\"",
    ";; é\n",
    "#t",
    "'",
    "`",
    ",",
    ",@",
    "é",
    "😀",
    "(define (f a) (+ a 1))",
    "#(",
    "[",
    "]",
    "#|",
    "|#",
    "#;",
    "(effect infer.op \"q\")",
    ".",
    "#\\a",
    "(if a 'b c)",
    "\"a\nb\"",
    "(quote (if x))",
];
