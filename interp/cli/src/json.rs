//! Diagnostics as JSON in the LSP shape (0-based lines, UTF-16 columns), as `omega check
//! --format json` prints them: one object per diagnostic, with `file`; and the report of
//! `omega explore --format json`.

use omega_analysis::check;
use omega_explore::Report;
use omega_syntax::diagnostic::{render_human, Diagnostic, Severity};
use omega_syntax::syntax::{SourceFile, Span};
use serde_json::{json, Map, Value as Json};

/// An LSP range (0-based lines, UTF-16 columns).
pub fn lsp_range(file: &SourceFile, span: Span) -> Json {
    let (sl, sc) = file.lines.line_col_utf16(&file.text, span.start as usize);
    let (el, ec) = file.lines.line_col_utf16(&file.text, span.end as usize);
    json!({"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}})
}

/// One diagnostic in the LSP shape, with `file` when `with_file` (the `omega check` form).
pub fn diagnostic_json(file: &SourceFile, uri: &str, d: &Diagnostic, with_file: bool) -> Json {
    let mut obj = Map::new();
    if with_file {
        obj.insert("file".into(), Json::from(&*file.name));
    }
    obj.insert("range".into(), lsp_range(file, d.span));
    obj.insert("severity".into(), Json::from(d.severity as u8));
    obj.insert("code".into(), Json::from(d.code.as_str()));
    obj.insert("source".into(), Json::from("omega"));
    obj.insert("message".into(), Json::from(d.message.clone()));
    if !d.related.is_empty() {
        let related: Vec<Json> = d
            .related
            .iter()
            .map(|r| json!({"location": {"uri": uri, "range": lsp_range(file, r.span)}, "message": r.message}))
            .collect();
        obj.insert("relatedInformation".into(), Json::Array(related));
    }
    if !d.tags.is_empty() {
        obj.insert("tags".into(), Json::Array(d.tags.iter().map(|t| Json::from(*t as u8)).collect()));
    }
    let data = data_json(file, d);
    if !data.is_empty() {
        obj.insert("data".into(), Json::Object(data));
    }
    Json::Object(obj)
}

fn data_json(file: &SourceFile, d: &Diagnostic) -> Map<String, Json> {
    let mut data = Map::new();
    if !d.data.locks.is_empty() {
        data.insert("locks".into(), Json::from(d.data.locks.clone()));
    }
    if let Some(state) = &d.data.state {
        data.insert("state".into(), Json::from(state.clone()));
    }
    if let Some(id) = &d.data.cycle_id {
        data.insert("cycleId".into(), Json::from(id.clone()));
    }
    if !d.data.trace.is_empty() {
        let trace: Vec<Json> =
            d.data.trace.iter().map(|t| json!({"range": lsp_range(file, t.span), "message": t.message})).collect();
        data.insert("trace".into(), Json::Array(trace));
    }
    if !d.fixes.is_empty() {
        let fixes: Vec<Json> = d
            .fixes
            .iter()
            .map(|f| {
                let edits: Vec<Json> = f
                    .edits
                    .iter()
                    .map(|(span, text)| json!({"range": lsp_range(file, *span), "newText": text}))
                    .collect();
                json!({"title": f.title, "isPreferred": f.preferred, "edits": edits})
            })
            .collect();
        data.insert("fixes".into(), Json::Array(fixes));
    }
    data
}

/// The `omega check --format json` array for one file. `uri_for_related` is the URI that
/// `relatedInformation` locations carry (LSP wants a URI even for the same file).
pub fn to_json(file: &SourceFile, uri_for_related: &str, diags: &[Diagnostic]) -> Json {
    Json::Array(diags.iter().map(|d| diagnostic_json(file, uri_for_related, d, true)).collect())
}

/// `omega check` for one file: the rendered output (human text or a JSON array) and whether
/// any diagnostic is an Error (exit status 1).
pub fn check_file_output(name: &str, text: &str, json: bool) -> (String, bool) {
    let file = SourceFile::new(name, text);
    let diags = check(text);
    let failed = diags.iter().any(|d| d.severity == Severity::Error);
    let out = if json { to_json(&file, &file_uri(name), &diags).to_string() } else { render_human(&file, &diags) };
    (out, failed)
}

/// A `file://` URI for a path as given (made absolute against the current directory is the
/// caller's business; relative paths stay relative).
pub fn file_uri(path: &str) -> String {
    if path.starts_with('/') {
        format!("file://{path}")
    } else {
        format!("file:{path}")
    }
}

/// The `omega explore --format json` object (interfaces.md); `uri` is what related places carry.
pub fn explore_report(report: &Report, uri: &str) -> Json {
    let file = &report.file;
    let findings: Vec<Json> = report
        .findings
        .iter()
        .map(|f| {
            let related: Vec<Json> = f
                .related
                .iter()
                .filter_map(|(m, s)| {
                    s.map(|s| json!({"location": {"uri": uri, "range": lsp_range(file, s)}, "message": m}))
                })
                .collect();
            json!({
                "kind": f.kind,
                "seed": f.seed,
                "message": f.message,
                "locks": f.locks,
                "state": f.state,
                "range": f.span.map(|s| lsp_range(file, s)),
                "related": related,
                "confirms": f.confirms.as_ref().map(|c| &c.0),
                "detail": f.detail,
                "replay": report.replay(f),
            })
        })
        .collect();
    json!({"file": &*file.name, "schedules": report.schedules, "findings": findings})
}

#[cfg(test)]
mod tests {
    use super::*;
    use omega_syntax::diagnostic::Code;

    fn sample() -> (SourceFile, Vec<Diagnostic>) {
        let file = SourceFile::new("a.omega", "(é)\n(foo 1)\n");
        let d = Diagnostic::error(Code::Unbound, Span::new(6, 9), "unbound variable: `foo`")
            .with_related(Span::new(1, 3), "similar name here");
        (file, vec![d])
    }

    #[test]
    fn json_output_has_the_lsp_shape() {
        let (file, diags) = sample();
        let j = to_json(&file, "file:///tmp/a.omega", &diags);
        assert_eq!(j[0]["file"], "a.omega");
        assert_eq!(j[0]["severity"], 1);
        assert_eq!(j[0]["code"], "omega::unbound");
        assert_eq!(j[0]["range"]["start"]["line"], 1);
        assert_eq!(j[0]["range"]["start"]["character"], 1);
        assert_eq!(j[0]["relatedInformation"][0]["location"]["range"]["end"]["character"], 2);
        assert!(j[0].get("data").is_none());
    }
}
