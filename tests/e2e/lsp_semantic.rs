//! Semantic tokens over the whole text, decoded from the protocol's relative encoding and
//! compared token by token: identifiers from the name resolution, everything else from the
//! syntax tree.

use serde_json::{json, Value};

use omega_tests::lsp::{range, LspClient, Options};

/// A decoded token: line, column, length, type, modifiers (joined with `,`).
type Token = (u64, u64, u64, String, String);

fn decode(c: &LspClient, tokens: &Value) -> Vec<Token> {
    let legend = &c.initialize_result["capabilities"]["semanticTokensProvider"]["legend"];
    let names = |key: &str| -> Vec<String> {
        legend[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    let (types, modifiers) = (names("tokenTypes"), names("tokenModifiers"));
    let data: Vec<u64> = tokens["data"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect();
    assert_eq!(data.len() % 5, 0);
    let (mut line, mut col) = (0, 0);
    data.chunks(5)
        .map(|t| {
            line += t[0];
            col = if t[0] == 0 { col + t[1] } else { t[1] };
            let mods: Vec<&str> =
                modifiers.iter().enumerate().filter(|(i, _)| t[4] & (1 << i) != 0).map(|(_, m)| m.as_str()).collect();
            (line, col, t[2], types[t[3] as usize].clone(), mods.join(","))
        })
        .collect()
}

fn full(c: &mut LspClient, uri: &str) -> Vec<Token> {
    let tokens = c.request("textDocument/semanticTokens/full", json!({"textDocument": {"uri": uri}}));
    decode(c, &tokens)
}

fn expect(rows: &[(u64, u64, u64, &str, &str)]) -> Vec<Token> {
    rows.iter().map(|&(l, c, n, t, m)| (l, c, n, t.to_string(), m.to_string())).collect()
}

/// Every kind of token: shebang, line, block and datum comments, strings, characters,
/// numbers, booleans, keywords from the table of forms, quote marks and quoted symbols,
/// effect operation names, and identifiers with their modifiers.
const EVERY_KIND: &str = r#"#!/usr/bin/env omega
;; greeting
#| block |#
(define (greet name) (string-append "hi " name #\!))
(define s (make-serializer))
(define total 0)
(set! total (+ total 1.5))
(if #t 'yes (quote no))
#;(ignored 1)
`(a ,total)
(effect infer.op "q")
(cond (else (greet "x")))
"#;

#[test]
fn every_kind_of_token_in_order_without_overlaps() {
    let mut c = LspClient::start(Options::default());
    let uri = "file:///work/kinds.omega";
    c.open(uri, EVERY_KIND);
    c.diagnostics(uri, 1);
    let got = full(&mut c, uri);
    #[rustfmt::skip]
    let want = expect(&[
        (0, 0, 20, "comment", ""),
        (1, 0, 11, "comment", ""),
        (2, 0, 11, "comment", ""),
        (3, 1, 6, "keyword", ""),
        (3, 9, 5, "function", "declaration"),
        (3, 15, 4, "parameter", "declaration"),
        (3, 22, 13, "function", "defaultLibrary"),
        (3, 36, 5, "string", ""),
        (3, 42, 4, "parameter", ""),
        (3, 47, 3, "string", ""),
        (4, 1, 6, "keyword", ""),
        (4, 8, 1, "variable", "declaration,serializer"),
        (4, 11, 15, "function", "defaultLibrary"),
        (5, 1, 6, "keyword", ""),
        (5, 8, 5, "variable", "declaration,sharedState"),
        (5, 14, 1, "number", ""),
        (6, 1, 4, "keyword", ""),
        (6, 6, 5, "variable", "sharedState"),
        (6, 13, 1, "function", "defaultLibrary"),
        (6, 15, 5, "variable", "sharedState"),
        (6, 21, 3, "number", ""),
        (7, 1, 2, "keyword", ""),
        (7, 4, 2, "keyword", ""),
        (7, 7, 1, "operator", ""),
        (7, 8, 3, "enumMember", ""),
        (7, 13, 5, "keyword", ""),
        (7, 19, 2, "enumMember", ""),
        (8, 0, 13, "comment", ""),
        (9, 0, 1, "operator", ""),
        (9, 2, 1, "enumMember", ""),
        (9, 4, 1, "operator", ""),
        (9, 5, 5, "variable", "sharedState"),
        (10, 1, 6, "keyword", ""),
        (10, 8, 8, "enumMember", ""),
        (10, 17, 3, "string", ""),
        (11, 1, 4, "keyword", ""),
        (11, 7, 4, "keyword", ""),
        (11, 13, 5, "function", ""),
        (11, 19, 3, "string", ""),
    ]);
    assert_eq!(got, want, "\n{got:#?}");
}

#[test]
fn a_range_request_gives_the_full_tokens_of_those_lines() {
    let mut c = LspClient::start(Options::default());
    let uri = "file:///work/kinds.omega";
    c.open(uri, EVERY_KIND);
    c.diagnostics(uri, 1);
    let all = full(&mut c, uri);
    let params = json!({"textDocument": {"uri": uri}, "range": range((6, 0), (9, 99))});
    let tokens = c.request("textDocument/semanticTokens/range", params);
    let ranged = decode(&c, &tokens);
    let want: Vec<Token> = all.into_iter().filter(|t| (6..=9).contains(&t.0)).collect();
    assert_eq!(ranged, want);
}

/// A non-ASCII string, a string over two lines and a nested block comment over three, with
/// CRLF line ends.
const MULTILINE: &str = "(define s \"é😀\") ; é\r\n(display \"one\r\ntwo\")\r\n#| a\r\n #| é |#\r\nb |# 7\r\n";

#[test]
fn multi_line_tokens_are_split_per_line_in_the_negotiated_encoding() {
    let cases = [
        // UTF-16: é is 1 unit, 😀 is 2.
        (
            false,
            false,
            vec![
                (0, 1, 6, "keyword", ""),
                (0, 8, 1, "variable", "declaration"),
                (0, 10, 5, "string", ""),
                (0, 17, 3, "comment", ""),
                (1, 1, 7, "function", "defaultLibrary"),
                (1, 9, 4, "string", ""),
                (2, 0, 4, "string", ""),
                (3, 0, 4, "comment", ""),
                (4, 0, 8, "comment", ""),
                (5, 0, 4, "comment", ""),
                (5, 5, 1, "number", ""),
            ],
        ),
        // UTF-8: é is 2 bytes, 😀 is 4.
        (
            true,
            false,
            vec![
                (0, 1, 6, "keyword", ""),
                (0, 8, 1, "variable", "declaration"),
                (0, 10, 8, "string", ""),
                (0, 20, 4, "comment", ""),
                (1, 1, 7, "function", "defaultLibrary"),
                (1, 9, 4, "string", ""),
                (2, 0, 4, "string", ""),
                (3, 0, 4, "comment", ""),
                (4, 0, 9, "comment", ""),
                (5, 0, 4, "comment", ""),
                (5, 5, 1, "number", ""),
            ],
        ),
        // Multi-line tokens taken whole: their length counts the line breaks (CRLF: 2 units).
        (
            false,
            true,
            vec![
                (0, 1, 6, "keyword", ""),
                (0, 8, 1, "variable", "declaration"),
                (0, 10, 5, "string", ""),
                (0, 17, 3, "comment", ""),
                (1, 1, 7, "function", "defaultLibrary"),
                (1, 9, 10, "string", ""),
                (3, 0, 20, "comment", ""),
                (5, 5, 1, "number", ""),
            ],
        ),
    ];
    for (utf8, multiline_tokens, rows) in cases {
        let mut c = LspClient::start(Options { utf8, multiline_tokens, ..Options::default() });
        let uri = "file:///work/multiline.omega";
        c.open(uri, MULTILINE);
        c.diagnostics(uri, 1);
        let got = full(&mut c, uri);
        assert_eq!(got, expect(&rows), "utf8: {utf8}, multiline: {multiline_tokens}\n{got:#?}");
    }
}

#[test]
fn above_the_analysis_limit_the_tree_alone_still_highlights() {
    let mut c = LspClient::start(Options::default());
    let uri = "file:///work/huge-kinds.omega";
    // Over the 2 MB analysis limit: no name resolution, so no identifier tokens.
    let text = format!("{EVERY_KIND}{}", ";; padding to pass the analysis limit\n".repeat(60_000));
    c.open(uri, &text);
    c.diagnostics(uri, 1);
    let params = json!({"textDocument": {"uri": uri}, "range": range((0, 0), (11, 99))});
    let tokens = c.request("textDocument/semanticTokens/range", params);
    #[rustfmt::skip]
    let want = expect(&[
        (0, 0, 20, "comment", ""),
        (1, 0, 11, "comment", ""),
        (2, 0, 11, "comment", ""),
        (3, 1, 6, "keyword", ""),
        (3, 36, 5, "string", ""),
        (3, 47, 3, "string", ""),
        (4, 1, 6, "keyword", ""),
        (5, 1, 6, "keyword", ""),
        (5, 14, 1, "number", ""),
        (6, 1, 4, "keyword", ""),
        (6, 21, 3, "number", ""),
        (7, 1, 2, "keyword", ""),
        (7, 4, 2, "keyword", ""),
        (7, 7, 1, "operator", ""),
        (7, 8, 3, "enumMember", ""),
        (7, 13, 5, "keyword", ""),
        (7, 19, 2, "enumMember", ""),
        (8, 0, 13, "comment", ""),
        (9, 0, 1, "operator", ""),
        (9, 2, 1, "enumMember", ""),
        (9, 4, 1, "operator", ""),
        (10, 1, 6, "keyword", ""),
        (10, 8, 8, "enumMember", ""),
        (10, 17, 3, "string", ""),
        (11, 1, 4, "keyword", ""),
        (11, 7, 4, "keyword", ""),
        (11, 19, 3, "string", ""),
    ]);
    assert_eq!(decode(&c, &tokens), want);
}
