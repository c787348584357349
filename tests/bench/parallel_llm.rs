//! `parallel` LLM calls against the loopback test server, and the cost of a task switch.
//!
//! `cargo bench -p omega-tests --bench parallel_llm`. For N calls in one `parallel` with the
//! server answering after 200 ms, wall time divided by the ideal (one latency: all in flight
//! at once); then tasks that only `yield`, for the scheduler's overhead per switch.

use std::time::{Duration, Instant};

use omega_llm::config::{AdapterKind, LlmConfig};
use omega_tests::llm_server::{LlmServer, Reply};
use omega_tests::programs::{run_in, session};
use omega_tests::TempDir;

const LATENCY: Duration = Duration::from_millis(200);

fn main() {
    let server = LlmServer::start();
    server.set_default(Reply::echo().after(LATENCY));
    let cache = TempDir::new("bench-parallel");
    let mut cfg = LlmConfig::new(AdapterKind::OpenAi);
    cfg.base_url = Some(server.openai_url());
    cfg.cache_dir = cache.path().to_path_buf();
    cfg.no_cache = true;
    cfg.max_in_flight = 256;

    println!("{:>6} {:>10} {:>12} {:>14}", "calls", "wall", "wall/ideal", "max in flight");
    for n in [16, 256] {
        let (mut s, out) = session(&cfg);
        let program =
            format!("(length (parallel-map (lambda (i) (effect infer.op (list \"question \" i))) (iota {n})))");
        let before = server.requests();
        let start = Instant::now();
        let r = run_in(&mut s, &out, &program);
        let wall = start.elapsed();
        assert_eq!(r.results.last().cloned().flatten(), Some(format!("=> {n}")));
        assert_eq!(server.requests() - before, n);
        println!(
            "{n:>6} {:>8.0}ms {:>12.2} {:>14}",
            wall.as_secs_f64() * 1e3,
            wall.as_secs_f64() / LATENCY.as_secs_f64(),
            server.max_in_flight()
        );
    }

    let (tasks, yields) = (100, 2_000);
    let (mut s, out) = session(&LlmConfig::new(AdapterKind::None));
    let program = format!(
        "(length (parallel-map (lambda (i) (let loop ((k 0)) (if (< k {yields}) (begin (yield) (loop (+ k 1))) k))) (iota {tasks})))"
    );
    let start = Instant::now();
    let r = run_in(&mut s, &out, &program);
    let wall = start.elapsed();
    assert_eq!(r.results.last().cloned().flatten(), Some(format!("=> {tasks}")));
    let switches = tasks * yields;
    println!(
        "task switch: {:.0} ns each ({switches} switches in {:.0} ms)",
        wall.as_secs_f64() * 1e9 / switches as f64,
        wall.as_secs_f64() * 1e3
    );
}
