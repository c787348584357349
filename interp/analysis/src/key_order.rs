//! Facts from guards (`(if (string<? k1 k2) …)`) and what they prove about key terms (the guarded idiom of docs/language.md §9).
//!
//! Facts are difference constraints over a handful of terms; proofs close them transitively
//! (Floyd–Warshall on at most a few terms), literals compare directly.

use std::cmp::Ordering;

use super::identity::Term;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rel {
    Lt,
    Le,
    Eq,
    Ne,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fact {
    pub a: Term,
    pub rel: Rel,
    pub b: Term,
}

/// At most this many facts are kept (the oldest are dropped): proofs stay cheap.
pub const MAX_FACTS: usize = 6;

/// The fact that a comparison operator states, and the one its negation states.
pub fn comparison(op: &str, a: Term, b: Term) -> Option<(Vec<Fact>, Vec<Fact>)> {
    let f = |a: &Term, rel, b: &Term| Fact { a: a.clone(), rel, b: b.clone() };
    let (yes, no) = match op {
        "<" | "string<?" | "char<?" => (f(&a, Rel::Lt, &b), f(&b, Rel::Le, &a)),
        "<=" | "string<=?" | "char<=?" => (f(&a, Rel::Le, &b), f(&b, Rel::Lt, &a)),
        ">" | "string>?" | "char>?" => (f(&b, Rel::Lt, &a), f(&a, Rel::Le, &b)),
        ">=" | "string>=?" | "char>=?" => (f(&b, Rel::Le, &a), f(&a, Rel::Lt, &b)),
        "=" | "equal?" | "eq?" | "eqv?" | "string=?" | "char=?" => (f(&a, Rel::Eq, &b), f(&a, Rel::Ne, &b)),
        _ => return None,
    };
    Some((vec![yes], vec![no]))
}

/// Folds a comparison of two literals.
pub fn fold(op: &str, a: &Term, b: &Term) -> Option<bool> {
    let ord = a.lit()?.compare(b.lit()?)?;
    Some(match op {
        "<" | "string<?" | "char<?" => ord == Ordering::Less,
        "<=" | "string<=?" | "char<=?" => ord != Ordering::Greater,
        ">" | "string>?" | "char>?" => ord == Ordering::Greater,
        ">=" | "string>=?" | "char>=?" => ord != Ordering::Less,
        "=" | "equal?" | "eq?" | "eqv?" | "string=?" | "char=?" => ord == Ordering::Equal,
        _ => return None,
    })
}

/// What the facts prove about `a` versus `b`.
pub struct Prover<'f> {
    facts: &'f [Fact],
}

impl<'f> Prover<'f> {
    pub fn new(facts: &'f [Fact]) -> Prover<'f> {
        Prover { facts }
    }

    /// Strength of the proven order from `a` to `b`: 2 strict (`a < b`), 1 (`a ≤ b`), 0 none.
    fn order(&self, a: &Term, b: &Term) -> u8 {
        if a == b {
            return 1;
        }
        if let (Some(x), Some(y)) = (a.lit(), b.lit()) {
            return match x.compare(y) {
                Some(Ordering::Less) => 2,
                Some(Ordering::Equal) => 1,
                _ => 0,
            };
        }
        let mut terms: Vec<&Term> = vec![a, b];
        for f in self.facts {
            for t in [&f.a, &f.b] {
                if !terms.contains(&t) {
                    terms.push(t);
                }
            }
        }
        let n = terms.len();
        let idx = |t: &Term| terms.iter().position(|u| *u == t).unwrap();
        let mut m = vec![vec![0u8; n]; n];
        for f in self.facts {
            let (i, j) = (idx(&f.a), idx(&f.b));
            match f.rel {
                Rel::Lt => m[i][j] = m[i][j].max(2),
                Rel::Le => m[i][j] = m[i][j].max(1),
                Rel::Eq => {
                    m[i][j] = m[i][j].max(1);
                    m[j][i] = m[j][i].max(1);
                }
                Rel::Ne => {}
            }
        }
        for i in 0..n {
            for j in 0..n {
                if let (Some(x), Some(y)) = (terms[i].lit(), terms[j].lit()) {
                    match x.compare(y) {
                        Some(Ordering::Less) => m[i][j] = 2,
                        Some(Ordering::Equal) => m[i][j] = m[i][j].max(1),
                        _ => {}
                    }
                }
            }
        }
        for k in 0..n {
            for i in 0..n {
                for j in 0..n {
                    if m[i][k] > 0 && m[k][j] > 0 {
                        let via = m[i][k].max(m[k][j]);
                        m[i][j] = m[i][j].max(via);
                    }
                }
            }
        }
        m[0][1]
    }

    /// Whether `t < … < t` follows from the facts.
    fn strict_cycle(&self, t: &Term) -> bool {
        let others: Vec<&Term> = self.facts.iter().flat_map(|f| [&f.a, &f.b]).filter(|u| *u != t).collect();
        others.iter().any(|u| (self.lt(t, u) && self.le(u, t)) || (self.le(t, u) && self.lt(u, t)))
    }

    pub fn lt(&self, a: &Term, b: &Term) -> bool {
        self.order(a, b) == 2
    }

    pub fn le(&self, a: &Term, b: &Term) -> bool {
        self.order(a, b) >= 1
    }

    /// Distinct values: different ground terms (selectors are injective, literals differ),
    /// or facts that order them strictly or state `≠`.
    pub fn distinct(&self, a: &Term, b: &Term) -> bool {
        if a == b {
            return false;
        }
        if a.is_ground() && b.is_ground() {
            return true;
        }
        self.facts.iter().any(|f| f.rel == Rel::Ne && ((f.a == *a && f.b == *b) || (f.a == *b && f.b == *a)))
            || self.lt(a, b)
            || self.lt(b, a)
    }
}

/// Whether the facts can all hold at once: no strict cycle (`a < … < a`) and no `≠`
/// between terms they force equal.
pub fn satisfiable(facts: &[Fact]) -> bool {
    let p = Prover::new(facts);
    let mut terms: Vec<&Term> = Vec::new();
    for f in facts {
        for t in [&f.a, &f.b] {
            if !terms.contains(&t) {
                terms.push(t);
            }
        }
    }
    for t in &terms {
        if p.strict_cycle(t) {
            return false;
        }
    }
    !facts.iter().any(|f| f.rel == Rel::Ne && (f.a == f.b || (p.le(&f.a, &f.b) && p.le(&f.b, &f.a))))
}

/// The direction of a nesting `outer → inner` inside one collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Asc,
    AscEq,
    Desc,
    DescEq,
    Unknown,
}

pub fn direction(facts: &[Fact], outer: &Term, inner: &Term) -> Direction {
    let p = Prover::new(facts);
    if p.lt(outer, inner) {
        Direction::Asc
    } else if p.lt(inner, outer) {
        Direction::Desc
    } else if outer != inner && p.le(outer, inner) {
        Direction::AscEq
    } else if outer != inner && p.le(inner, outer) {
        Direction::DescEq
    } else {
        Direction::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbol::Symbol;

    fn var(n: u32, s: &str) -> Term {
        Term::Var(n, Symbol::intern(s))
    }

    #[test]
    fn guard_facts_prove_directions() {
        let (a, b) = (var(1, "a"), var(2, "b"));
        let (yes, no) = comparison("string<?", a.clone(), b.clone()).unwrap();
        assert_eq!(direction(&yes, &a, &b), Direction::Asc);
        assert_eq!(direction(&no, &b, &a), Direction::AscEq);
        assert_eq!(direction(&[], &a, &b), Direction::Unknown);
        let chain = vec![
            Fact { a: a.clone(), rel: Rel::Le, b: var(3, "c") },
            Fact { a: var(3, "c"), rel: Rel::Lt, b: b.clone() },
        ];
        assert!(Prover::new(&chain).lt(&a, &b));
    }
}
