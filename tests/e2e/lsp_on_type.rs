//! Indentation as you type: `textDocument/onTypeFormatting` on Enter, and range formatting of
//! one line of unfinished text, against the built `omega-lsp`.

use serde_json::{json, Value};

use omega_tests::lsp::{position, range, LspClient, Options};

const URI: &str = "file:///work/typing.omega";

/// A server with `text` open as version 1.
fn typing(text: &str) -> LspClient {
    let mut c = LspClient::start(Options::default());
    c.open(URI, text);
    c
}

/// What the server answers when Enter was just pressed with the cursor at `(line, character)`;
/// the client asks for tabs, which Lisp indentation does not use.
fn enter_at(c: &mut LspClient, line: u32, character: u32) -> Vec<Value> {
    let edits = c.request(
        "textDocument/onTypeFormatting",
        json!({"textDocument": {"uri": URI}, "position": position(line, character), "ch": "\n",
               "options": {"tabSize": 4, "insertSpaces": false}}),
    );
    edits.as_array().cloned().unwrap_or_default()
}

/// The one edit expected: the line's leading whitespace, up to `written`, becomes `spaces`.
fn assert_indents(edits: &[Value], line: u32, written: u32, spaces: usize) {
    assert_eq!(edits.len(), 1, "{edits:#?}");
    assert_eq!(edits[0]["range"], range((line, 0), (line, written)));
    assert_eq!(edits[0]["newText"], " ".repeat(spaces));
}

#[test]
fn enter_after_a_definition_indents_its_body_by_two() {
    let mut c = typing("(define (f x)");
    let options = &c.initialize_result["capabilities"]["documentOnTypeFormattingProvider"];
    assert_eq!(options["firstTriggerCharacter"], "\n");
    c.change(URI, 2, (0, 13), (0, 13), "\n");
    assert_indents(&enter_at(&mut c, 1, 0), 1, 0, 2);
    // Once the line has it, nothing more to do.
    c.change(URI, 3, (1, 0), (1, 0), "  ");
    assert_eq!(enter_at(&mut c, 1, 2), Vec::<Value>::new());
}

#[test]
fn enter_inside_a_call_aligns_under_the_first_argument() {
    // The editor's own indentation (2 spaces) is replaced, not added to.
    let mut c = typing("(define (f x)\n  (foo a");
    c.change(URI, 2, (1, 8), (1, 8), "\n  ");
    assert_indents(&enter_at(&mut c, 2, 2), 2, 2, 7);
    // Enter in the middle of a line: the text after the cursor moves along.
    let mut c = typing("(let ((a 1) (b 2))\n  a)");
    c.change(URI, 2, (0, 11), (0, 12), "\n");
    assert_indents(&enter_at(&mut c, 1, 0), 1, 0, 6);
}

#[test]
fn forms_above_are_read_only_as_far_as_they_matter() {
    // Closed forms above, one with a string over two lines, one starting mid-line: the form
    // being typed starts on line 4, in column 0.
    let mut c = typing("(define a 1)\n(define s \"two\n(lines\")\n(f) (g\n    x)\n(define (h y)\n  (foo y");
    c.change(URI, 2, (6, 8), (6, 8), "\n");
    assert_indents(&enter_at(&mut c, 7, 0), 7, 0, 7);
    // Within a form that starts mid-line or indented, the line it starts on is read whole.
    let mut c = typing("(f) (g a\n");
    assert_indents(&enter_at(&mut c, 1, 0), 1, 0, 7);
    let mut c = typing("(f)\n  (g a\n");
    assert_indents(&enter_at(&mut c, 2, 0), 2, 0, 5);
    // An unclosed form above holds what follows it, even a line in column 0.
    let mut c = typing("(foo a\n(bar)\n");
    assert_indents(&enter_at(&mut c, 2, 0), 2, 0, 5);
}

#[test]
fn columns_count_characters_whatever_the_encoding() {
    // 😀 is 4 bytes and 2 UTF-16 code units, é 2 bytes: `a` is in column 11 all the same.
    let mut c = typing("(f \"😀é\" (g a");
    c.change(URI, 2, (0, 14), (0, 14), "\n");
    assert_indents(&enter_at(&mut c, 1, 0), 1, 0, 11);
}

#[test]
fn no_edit_inside_a_string_or_block_comment() {
    let mut c = typing("(display \"two\n");
    assert_eq!(enter_at(&mut c, 1, 0), Vec::<Value>::new());
    let mut c = typing("(f #| a note\n  ");
    assert_eq!(enter_at(&mut c, 1, 2), Vec::<Value>::new());
}

#[test]
fn range_formatting_one_line_of_unfinished_text_reindents_it() {
    let mut c = typing("(define (f x)\n(foo a\nb");
    let format_line = |c: &mut LspClient, line: u32| {
        c.request(
            "textDocument/rangeFormatting",
            json!({"textDocument": {"uri": URI}, "range": range((line, 0), (line, 1)),
                   "options": {"tabSize": 2, "insertSpaces": true}}),
        )
    };
    assert_indents(format_line(&mut c, 1).as_array().unwrap(), 1, 0, 2);
    // Line 2 lines up under `a` where it stands now, in column 5.
    assert_indents(format_line(&mut c, 2).as_array().unwrap(), 2, 0, 5);
    // Over several lines, unfinished text is still refused.
    let several = c.request_raw(
        "textDocument/rangeFormatting",
        json!({"textDocument": {"uri": URI}, "range": range((1, 0), (2, 1)),
               "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert!(several.is_err_and(|e| e["message"].as_str().unwrap_or("").contains("unclosed")), "refused");
}
