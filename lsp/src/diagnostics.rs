//! The core's diagnostics (byte spans) and evaluation failures as LSP diagnostics.

use serde_json::{json, Map, Value as Json};
use tower_lsp_server::ls_types::{
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag, Location, NumberOrString, Uri,
};

use omega_syntax::diagnostic::{Code, Diagnostic as OmegaDiagnostic, Severity, Tag};
use omega_syntax::syntax::Span;

use crate::document::LineMap;

fn severity(s: Severity) -> DiagnosticSeverity {
    match s {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
        Severity::Information => DiagnosticSeverity::INFORMATION,
        Severity::Hint => DiagnosticSeverity::HINT,
    }
}

/// One analysis diagnostic: related places as locations in the same file, machine facts and
/// quick fixes (as LSP text edits) in `data`.
pub fn from_analysis(map: &LineMap, uri: &Uri, d: &OmegaDiagnostic) -> Diagnostic {
    let related: Vec<DiagnosticRelatedInformation> = d
        .related
        .iter()
        .map(|r| DiagnosticRelatedInformation {
            location: Location::new(uri.clone(), map.range(r.span)),
            message: r.message.clone(),
        })
        .collect();
    let tags: Vec<DiagnosticTag> = d
        .tags
        .iter()
        .map(|t| match t {
            Tag::Unnecessary => DiagnosticTag::UNNECESSARY,
            Tag::Deprecated => DiagnosticTag::DEPRECATED,
        })
        .collect();
    let data = data(map, d);
    Diagnostic {
        range: map.range(d.span),
        severity: Some(severity(d.severity)),
        code: Some(NumberOrString::String(d.code.as_str().into())),
        code_description: None,
        source: Some("omega".into()),
        message: d.message.clone(),
        related_information: (!related.is_empty()).then_some(related),
        tags: (!tags.is_empty()).then_some(tags),
        data: (!data.is_empty()).then_some(Json::Object(data)),
    }
}

fn data(map: &LineMap, d: &OmegaDiagnostic) -> Map<String, Json> {
    let mut data = Map::new();
    if !d.data.locks.is_empty() {
        data.insert("locks".into(), json!(d.data.locks));
    }
    if let Some(state) = &d.data.state {
        data.insert("state".into(), json!(state));
    }
    if let Some(id) = &d.data.cycle_id {
        data.insert("cycleId".into(), json!(id));
    }
    if !d.data.trace.is_empty() {
        let trace: Vec<Json> =
            d.data.trace.iter().map(|t| json!({"range": map.range(t.span), "message": t.message})).collect();
        data.insert("trace".into(), Json::Array(trace));
    }
    if !d.fixes.is_empty() {
        let fixes: Vec<Json> = d
            .fixes
            .iter()
            .map(|f| {
                let edits: Vec<Json> =
                    f.edits.iter().map(|(span, text)| json!({"range": map.range(*span), "newText": text})).collect();
                json!({"title": f.title, "isPreferred": f.preferred, "edits": edits})
            })
            .collect();
        data.insert("fixes".into(), Json::Array(fixes));
    }
    data
}

/// An evaluation failure kept for the file until its next run, in current-text byte spans.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalDiagnostic {
    pub span: Span,
    pub code: Code,
    pub message: String,
    pub related: Vec<(Span, String)>,
}

pub fn from_eval(map: &LineMap, uri: &Uri, d: &EvalDiagnostic) -> Diagnostic {
    let related: Vec<DiagnosticRelatedInformation> = d
        .related
        .iter()
        .map(|(span, message)| DiagnosticRelatedInformation {
            location: Location::new(uri.clone(), map.range(*span)),
            message: message.clone(),
        })
        .collect();
    Diagnostic {
        range: map.range(d.span),
        severity: Some(DiagnosticSeverity::ERROR),
        code: Some(NumberOrString::String(d.code.as_str().into())),
        code_description: None,
        source: Some("omega".into()),
        message: d.message.clone(),
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    }
}
