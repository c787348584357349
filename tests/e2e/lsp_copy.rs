//! "Copy answer" in hover: clients that declare they run `omega.copyAnswer`
//! (`capabilities.experimental.commands.commands`, rust-analyzer's shape) get a command link
//! under an answer or a value; the link names the result, and `omega.answerText` gives its
//! text back exactly. Clients that do not declare it get no link.

use serde_json::{json, Value};

use omega_tests::llm_server::{LlmServer, Reply};
use omega_tests::lsp::{file_uri, loopback_llm, percent_decode, position, LspClient, Options};
use omega_tests::TempDir;

/// Several lines, non-ASCII, Markdown and URI syntax, quotes and backslashes: what a copy
/// must give back byte for byte.
const ANSWER: &str = "Ça fait 4 — «quatre» 😀\n\n* [a](b) %20 `code` \"quoted\" \\ back\n\tindented line\nend";

const PROGRAM: &str = "(define answer (effect infer.op \"What is 2+2?\"))\n(string-length answer)\n";

struct Setup {
    _dir: TempDir,
    llm: LlmServer,
    client: LspClient,
    uri: String,
}

impl Setup {
    /// A trusted project on the loopback LLM server, PROGRAM open and run once.
    fn run(declares_copy: bool, answer: &str) -> Setup {
        let dir = TempDir::new("lsp-copy");
        let llm = LlmServer::start();
        llm.on("2+2", Reply::answer(answer));
        let options = json!({
            "eval": {"trusted": true, "onSave": true},
            "llm": loopback_llm(&llm, &dir.join("cache")),
        });
        let experimental = if declares_copy {
            json!({"commands": {"commands": ["omega.somethingElse", "omega.copyAnswer"]}})
        } else {
            Value::Null
        };
        let client = LspClient::start(Options {
            initialization_options: options,
            cwd: Some(dir.path().to_path_buf()),
            experimental,
            ..Options::default()
        });
        let path = dir.join("copy.omega");
        std::fs::write(&path, PROGRAM).expect("write the program");
        let uri = file_uri(&path);
        let mut s = Setup { _dir: dir, llm, client, uri };
        s.client.open(&s.uri, PROGRAM);
        s.client.diagnostics(&s.uri, 1);
        s.save_and_wait();
        s
    }

    fn save_and_wait(&mut self) {
        self.client.save(&self.uri);
        self.client.eval_status(&self.uri, "done");
        self.client.wait_hints(&self.uri, |h| h.len() >= 2);
    }

    fn hover(&mut self, line: u32, character: u32) -> String {
        let h = self.client.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": self.uri}, "position": position(line, character)}),
        );
        h["contents"]["value"].as_str().unwrap_or_default().to_string()
    }

    fn answer_text(&mut self, args: &Value) -> Result<Value, Value> {
        self.client.request_raw("workspace/executeCommand", json!({"command": "omega.answerText", "arguments": args}))
    }
}

/// The `[LABEL](command:omega.copyAnswer?ARGS …)` link in `hover`: LABEL and ARGS decoded.
fn copy_link(hover: &str) -> Option<(String, Value)> {
    let start = hover.find("[Copy ")?;
    let rest = &hover[start + 1..];
    let (label, rest) = rest.split_once("](command:omega.copyAnswer?")?;
    let encoded = rest.split([' ', ')']).next()?;
    let args = serde_json::from_str(&percent_decode(encoded)).expect("the link's arguments are JSON");
    Some((label.to_string(), args))
}

#[test]
fn hover_offers_copy_and_the_command_gives_the_answer_back_exactly() {
    let mut s = Setup::run(true, ANSWER);
    // Hover on `infer.op`: the answer, then the link.
    let hover = s.hover(0, 24);
    assert!(hover.contains("Ça fait 4"), "{hover}");
    let (label, args) = copy_link(&hover).unwrap_or_else(|| panic!("no copy link in {hover}"));
    assert_eq!(label, "Copy answer");
    assert_eq!(args[0], s.uri.as_str(), "{args}");
    assert!(args[1].is_u64() && args.as_array().unwrap().len() == 2, "{args}");
    let copied = s.answer_text(&args).expect("omega.answerText answers");
    assert_eq!(copied["text"].as_str(), Some(ANSWER), "byte-exact");
    assert_eq!(copied["kind"], "answer");

    // A value gets the same link: its printed form.
    let hover = s.hover(1, 3);
    let (label, value_args) = copy_link(&hover).unwrap_or_else(|| panic!("no copy link in {hover}"));
    assert_eq!(label, "Copy value");
    let chars = ANSWER.chars().count().to_string();
    let copied = s.answer_text(&value_args).expect("the value");
    assert_eq!((copied["text"].as_str(), copied["kind"].as_str()), (Some(chars.as_str()), Some("value")));

    // After another run the old link names nothing: it fails with a reason rather than copy
    // an answer the hover did not show; the new hover's link works.
    s.save_and_wait();
    let err = s.answer_text(&args).expect_err("a link from before the run");
    assert!(err["message"].as_str().unwrap_or("").contains("hover the call again"), "{err}");
    let (_, fresh) = copy_link(&s.hover(0, 24)).expect("a fresh link");
    assert_ne!(fresh, args);
    assert_eq!(s.answer_text(&fresh).expect("the fresh link")["text"], ANSWER);
    assert_eq!(s.llm.requests(), 1, "the second run answered from the cache");

    // Wrong arguments say what is expected.
    let err = s.answer_text(&json!([s.uri.as_str()])).expect_err("no id");
    assert!(err["message"].as_str().unwrap_or("").contains("argument 2"), "{err}");
}

#[test]
fn a_long_answer_keeps_a_short_link() {
    let long = "line of a long answer, é\n".repeat(2000);
    let long = long.trim_end();
    let mut s = Setup::run(true, long);
    let hover = s.hover(0, 24);
    let start = hover.find("[Copy answer]").expect("a copy link");
    let link = hover[start..].lines().next().unwrap();
    assert!(link.len() < 300, "{} bytes: {link}", link.len());
    let (_, args) = copy_link(&hover).unwrap();
    assert_eq!(s.answer_text(&args).expect("the text")["text"].as_str(), Some(long));
}

#[test]
fn clients_that_do_not_declare_the_command_get_no_link() {
    let mut s = Setup::run(false, ANSWER);
    let hover = s.hover(0, 24);
    assert!(hover.contains("Ça fait 4"), "the answer is still there: {hover}");
    assert!(!hover.contains("command:") && !hover.contains("Copy answer"), "{hover}");
    assert!(!s.hover(1, 3).contains("command:"));
}
