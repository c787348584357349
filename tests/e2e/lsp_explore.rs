//! "Reproduce by exploring schedules" in the language server: the code action on deadlock and
//! race warnings (trusted workspaces only), the warning republished with the seed and the
//! places of the interleaving or with "not reproduced in N schedules", the "▶ Replay seed S"
//! lens and the blocked places its run shows inline, cancellation, and no LLM request.

use serde_json::{json, Value};

use omega_tests::llm_server::{LlmServer, Reply};
use omega_tests::lsp::{file_uri, loopback_llm, LspClient, Options};
use omega_tests::{repo_root, TempDir};

/// A project whose LLM configuration points at the loopback server, and a server started on it.
struct Setup {
    dir: TempDir,
    llm: LlmServer,
    client: LspClient,
}

impl Setup {
    fn new(trusted: bool, explore: Value) -> Setup {
        let dir = TempDir::new("lsp-explore");
        let llm = LlmServer::start();
        llm.set_default(Reply::answer("a real answer"));
        let options = json!({
            "eval": {"trusted": trusted, "onSave": false},
            "explore": explore,
            "llm": loopback_llm(&llm, &dir.join("cache")),
        });
        let client = LspClient::start(Options {
            initialization_options: options,
            cwd: Some(dir.path().to_path_buf()),
            ..Options::default()
        });
        Setup { dir, llm, client }
    }

    /// Copies a repository file into the project, opens it; its URI and its diagnostics.
    fn open(&mut self, repo_file: &str) -> (String, Vec<Value>) {
        let text = std::fs::read_to_string(repo_root().join(repo_file)).expect("read the program");
        let path = self.dir.join(repo_file.rsplit('/').next().unwrap());
        std::fs::write(&path, &text).expect("write the program");
        let uri = file_uri(&path);
        self.client.open(&uri, &text);
        let diags = self.client.diagnostics(&uri, 1);
        (uri, diags)
    }

    fn actions(&mut self, uri: &str, d: &Value) -> Vec<Value> {
        let r = self.client.request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": d["range"], "context": {"diagnostics": [d]}}),
        );
        r.as_array().cloned().unwrap_or_default()
    }

    /// The "Reproduce by exploring schedules" action's command on `d`.
    fn explore_command(&mut self, uri: &str, d: &Value) -> Option<Value> {
        let actions = self.actions(uri, d);
        actions.into_iter().find(|a| a["title"] == "Reproduce by exploring schedules").map(|a| a["command"].clone())
    }

    /// Runs a command as the editor does for a lens or an action.
    fn run(&mut self, command: &Value) -> Value {
        self.client.command(command["command"].as_str().unwrap(), command["arguments"].clone())
    }

    /// The next diagnostics of `uri` with one of `code` whose message contains `needle`.
    fn republished(&mut self, uri: &str, code: &str, needle: &str) -> Value {
        let p = self.client.wait("textDocument/publishDiagnostics", |p| {
            p["uri"] == uri && find(&p["diagnostics"], code).is_some_and(|d| message(&d).contains(needle))
        });
        find(&p["diagnostics"], code).unwrap()
    }

    fn lenses(&mut self, uri: &str) -> Vec<Value> {
        let r = self.client.request("textDocument/codeLens", json!({"textDocument": {"uri": uri}}));
        r.as_array().cloned().unwrap_or_default()
    }
}

fn find(diags: &Value, code: &str) -> Option<Value> {
    diags.as_array()?.iter().find(|d| d["code"] == code).cloned()
}

fn message(d: &Value) -> String {
    d["message"].as_str().unwrap_or("").to_string()
}

/// The seed in "reproduced with seed S".
fn seed_in(message: &str) -> u64 {
    let rest = message.split("reproduced with seed ").nth(1).unwrap_or_else(|| panic!("no seed in {message}"));
    rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

const DEADLOCK: &str = "tests/chapter/39-5-deadlock.omega";

#[test]
fn the_action_is_offered_on_deadlock_warnings_only_when_the_workspace_is_trusted() {
    let mut s = Setup::new(true, json!({}));
    let (uri, diags) = s.open(DEADLOCK);
    let d = find(&Value::Array(diags.clone()), "omega::deadlock-order").expect("the static deadlock warning");
    let command = s.explore_command(&uri, &d).expect("the action in a trusted workspace");
    assert_eq!(command["command"], "omega.explore");
    assert_eq!(command["arguments"][1]["locks"], json!(["term-a-serializer", "term-b-serializer"]));
    let advertised = &s.client.initialize_result["capabilities"]["executeCommandProvider"]["commands"];
    assert!(advertised.as_array().unwrap().iter().any(|c| c == "omega.explore"), "{advertised}");
    assert!(advertised.as_array().unwrap().iter().any(|c| c == "omega.replay"), "{advertised}");

    let mut s = Setup::new(false, json!({}));
    let (uri, _) = s.open(DEADLOCK);
    assert!(s.explore_command(&uri, &d).is_none(), "no exploring in an untrusted workspace");
    // Run anyway (an old action, a key binding): refused, and said why.
    let answer = s.run(&command_for(&uri, &command));
    assert_eq!(answer["started"], false, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("untrusted workspace"), "{answer}");
}

/// `command` with its URI argument replaced by `uri`.
fn command_for(uri: &str, command: &Value) -> Value {
    let mut c = command.clone();
    c["arguments"][0] = json!(uri);
    c
}

#[test]
fn exploring_reproduces_the_deadlock_and_the_replay_shows_where_each_task_waits() {
    let mut s = Setup::new(true, json!({}));
    let (uri, diags) = s.open(DEADLOCK);
    let d = find(&Value::Array(diags), "omega::deadlock-order").unwrap();
    let command = s.explore_command(&uri, &d).unwrap();
    assert_eq!(s.run(&command)["started"], true);

    let found = s.republished(&uri, "omega::deadlock-order", "reproduced with seed");
    let seed = seed_in(&message(&found));
    assert!(message(&found).contains("with stand-in LLM answers"), "{found:#}");
    assert_eq!(found["range"], d["range"], "the same warning, in the same place");
    // The places of the interleaving: each agent blocked at its inner acquisition (lines 8, 12).
    let prefix = format!("seed {seed}: ");
    let mut places: Vec<(u64, String)> = found["relatedInformation"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            let m = r["message"].as_str()?.strip_prefix(&prefix)?.to_string();
            Some((r["location"]["range"]["start"]["line"].as_u64()?, m))
        })
        .collect();
    places.sort();
    assert_eq!(places.len(), 2, "{found:#}");
    assert_eq!(places[0].0, 7);
    assert!(places[0].1.ends_with("waits for term-b-serializer"), "{places:?}");
    assert_eq!(places[1].0, 11);
    assert!(places[1].1.ends_with("waits for term-a-serializer"), "{places:?}");
    s.client.wait("$/progress", |p| p["value"]["kind"] == "end");

    // The lens replays that seed.
    let lenses = s.lenses(&uri);
    let title = format!("▶ Replay seed {seed}");
    let replay =
        lenses.iter().find(|l| l["command"]["title"] == title.as_str()).unwrap_or_else(|| panic!("{lenses:#?}"));
    assert_eq!(replay["range"]["start"], d["range"]["start"]);
    assert_eq!(replay["command"]["command"], "omega.replay");
    assert_eq!(s.run(&replay["command"])["started"], true);
    s.client.eval_status(&uri, "failed");
    let hints = s.client.wait_hints(&uri, |h| h.iter().filter(|h| label(h).starts_with("⏸ ")).count() == 2);
    let mut blocked: Vec<(u64, String)> = hints
        .iter()
        .filter(|h| label(h).starts_with("⏸ "))
        .map(|h| (h["position"]["line"].as_u64().unwrap(), label(h)))
        .collect();
    blocked.sort();
    assert_eq!(blocked, places.iter().map(|(l, m)| (*l, format!("⏸ {m}"))).collect::<Vec<_>>());
    assert!(blocked.iter().all(|(_, l)| l.starts_with("⏸ task ")), "{blocked:?}");
    // The replay's answers show as for any run: the stand-ins the exploration used.
    assert!(hints.iter().any(|h| label(h).starts_with("stand-in answer")), "{hints:#?}");
    assert_eq!(s.llm.requests(), 0, "exploring and replaying sent requests to the LLM server");
}

fn label(h: &Value) -> String {
    h["label"].as_str().unwrap_or("").to_string()
}

#[test]
fn a_bug_whose_serializers_are_named_otherwise_at_run_time_is_still_reproduced() {
    // Serializers fetched by key: the analysis names them `la`/`lb`, the run `API`/`GPU`; the
    // deadlock happens at the warning's place all the same.
    let mut s = Setup::new(true, json!({}));
    let (uri, diags) = s.open("tests/analysis-cases/c88-pipeline-guard-broken.omega");
    let d = find(&Value::Array(diags), "omega::deadlock-order").unwrap();
    let command = s.explore_command(&uri, &d).unwrap();
    s.run(&command);
    let found = s.republished(&uri, "omega::deadlock-order", "reproduced with seed");
    assert!(
        found["relatedInformation"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["message"].as_str().unwrap().contains("waits for API")),
        "{found:#}"
    );
}

/// The guarded idiom: the analysis notes that equal keys would make a task wait for itself, but
/// the program orders its keys, so no schedule deadlocks.
const GUARDED: &str = "tests/analysis-cases/c21-idiom-equal-keys-note.omega";

#[test]
fn a_warning_no_schedule_shows_says_so_and_stays() {
    let mut s = Setup::new(true, json!({"schedules": 40}));
    let (uri, diags) = s.open(GUARDED);
    let d = find(&Value::Array(diags), "omega::self-deadlock").expect("the static note");
    let command = s.explore_command(&uri, &d).expect("the action on a self-deadlock note");
    s.run(&command);
    let kept = s.republished(&uri, "omega::self-deadlock", "not reproduced in 40 schedules");
    assert_eq!((&kept["range"], &kept["severity"]), (&d["range"], &d["severity"]));
    assert!(message(&kept).starts_with(&message(&d)), "{kept:#}");
    let end = s.client.wait("$/progress", |p| p["value"]["kind"] == "end");
    assert!(end["value"]["message"].as_str().unwrap().contains("not reproduced in 40 schedules"), "{end:#}");
    assert!(!s.lenses(&uri).iter().any(|l| l["command"]["command"] == "omega.replay"));
    assert_eq!(s.llm.requests(), 0);
}

#[test]
fn what_the_analysis_missed_is_a_diagnostic_of_its_own_with_a_replay_lens() {
    // Beside the guarded idiom's note (never reproduced), an error only some schedules raise:
    // the reader may take the lock before the writer, and no static warning points at it.
    let mut s = Setup::new(true, json!({"schedules": 40}));
    let (uri, diags) = s.open(GUARDED);
    let d = find(&Value::Array(diags), "omega::self-deadlock").unwrap();
    let appended = "(define items-lock (make-serializer))\n\
                    (define items '())\n\
                    (parallel\n\
                    \x20 (lambda () ((items-lock (lambda () (set! items (cons 1 items))))))\n\
                    \x20 (lambda () ((items-lock (lambda () (car items))))))\n";
    s.client.change(&uri, 2, (11, 0), (11, 0), appended);
    let diags = s.client.diagnostics(&uri, 2);
    assert!(find(&Value::Array(diags), "omega::self-deadlock").is_some());
    let command = s.explore_command(&uri, &d).unwrap();
    s.run(&command);
    let found = s.republished(&uri, "omega::schedule-finding", "found by exploring schedules");
    let seed = message(&found).split("seed ").nth(1).unwrap().split(';').next().unwrap().to_string();
    assert!(message(&found).contains("car: expected pair"), "{found:#}");
    assert_eq!(found["range"]["start"]["line"], 15, "at the failing call: {found:#}");
    assert_eq!(found["severity"], 2);
    let lenses = s.lenses(&uri);
    let title = format!("▶ Replay seed {seed}");
    let lens = lenses.iter().find(|l| l["command"]["title"] == title.as_str()).unwrap_or_else(|| panic!("{lenses:#?}"));
    assert_eq!(lens["range"]["start"], found["range"]["start"]);
}

#[test]
fn cancel_and_edits_stop_an_exploration() {
    let mut s = Setup::new(true, json!({"schedules": 1_000_000}));
    let (uri, diags) = s.open(GUARDED);
    let d = find(&Value::Array(diags), "omega::self-deadlock").unwrap();
    let command = s.explore_command(&uri, &d).unwrap();
    s.run(&command);
    s.client.wait("$/progress", |p| p["value"]["kind"] == "report");
    assert_eq!(s.client.command("omega.cancel", json!([uri]))["cancelled"], true);
    let end = s.client.wait("$/progress", |p| p["value"]["kind"] == "end");
    let said = end["value"]["message"].as_str().unwrap();
    assert!(said.starts_with("cancelled after"), "{end:#}");
    assert_eq!(s.client.command("omega.cancel", json!([uri]))["cancelled"], false, "nothing left to cancel");

    // An edit makes the exploration's question moot: it stops too.
    s.run(&command);
    s.client.wait("$/progress", |p| p["value"]["kind"] == "report");
    s.client.change(&uri, 2, (0, 0), (0, 0), ";; edited\n");
    let end = s.client.wait("$/progress", |p| p["value"]["kind"] == "end");
    assert!(end["value"]["message"].as_str().unwrap().starts_with("cancelled after"), "{end:#}");
    let diags = s.client.diagnostics(&uri, 2);
    assert!(diags.iter().all(|d| !message(d).contains("reproduced")), "{diags:#?}");
}

#[test]
fn an_edit_drops_the_verdict_and_its_lens() {
    let mut s = Setup::new(true, json!({}));
    let (uri, diags) = s.open(DEADLOCK);
    let d = find(&Value::Array(diags), "omega::deadlock-order").unwrap();
    let line = d["range"]["start"]["line"].as_u64().unwrap();
    let command = s.explore_command(&uri, &d).unwrap();
    s.run(&command);
    s.republished(&uri, "omega::deadlock-order", "reproduced with seed");
    assert!(s.lenses(&uri).iter().any(|l| l["command"]["command"] == "omega.replay"));
    s.client.change(&uri, 2, (0, 0), (0, 0), ";; edited\n");
    let diags = s.client.diagnostics(&uri, 2);
    let d = diags.iter().find(|d| d["code"] == "omega::deadlock-order").expect("the warning stays");
    assert!(!message(d).contains("reproduced"), "{d:#}");
    assert_eq!(d["range"]["start"]["line"], line + 1, "moved with the edit");
    assert!(!s.lenses(&uri).iter().any(|l| l["command"]["command"] == "omega.replay"));
}
