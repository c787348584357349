//! Client-side cost of an LLM call, measured against the loopback test server.
//!
//! `cargo bench -p omega-tests --bench llm_overhead [-- CALLS]`
//!
//! - per-call overhead: wall time of `LlmSession::call` minus the server's own handling time,
//!   averaged over sequential calls on a kept-alive connection (cache off). Includes the kernel's
//!   loopback TCP, so it is an upper bound on what the library adds. Target: < 1 ms.
//! - cache hit: `LlmSession::call` answered from the on-disk cache. Target: < 0.2 ms.
//! - submit: time for `submit` to return on a cache miss (it must never wait for the network).

use std::time::{Duration, Instant};

use omega_llm::config::{AdapterKind, LlmConfig};
use omega_llm::{LlmRequest, LlmService};
use omega_tests::llm_server::LlmServer;
use omega_tests::TempDir;

fn main() {
    let calls: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(2000);
    let server = LlmServer::start();
    let cache = TempDir::new("llm-bench");
    let mut cfg = LlmConfig::new(AdapterKind::OpenAi);
    cfg.base_url = Some(server.openai_url());
    cfg.model = "bench".into();
    cfg.cache_dir = cache.path().to_path_buf();

    // Per-call overhead, cache off.
    let mut uncached = cfg.clone();
    uncached.no_cache = true;
    let service = LlmService::new(&uncached).unwrap();
    let mut session = service.session();
    for i in 0..200 {
        session.call(LlmRequest::infer(format!("warm-up {i}"))).unwrap();
    }
    let busy_before = server.busy_time();
    let mut times = Vec::with_capacity(calls);
    for i in 0..calls {
        let started = Instant::now();
        session.call(LlmRequest::infer(format!("What is {i} + {i}?"))).unwrap();
        times.push(started.elapsed());
    }
    let server_mean = (server.busy_time() - busy_before) / calls as u32;
    let call = Stats::of(&mut times);
    let overhead = call.mean.saturating_sub(server_mean);

    // Submit latency on a miss.
    let mut submits = Vec::with_capacity(200);
    for i in 0..200 {
        let started = Instant::now();
        let ticket = session.submit(LlmRequest::infer(format!("submit {i}")));
        submits.push(started.elapsed());
        session.wait_for(ticket).unwrap().unwrap();
    }
    let submit = Stats::of(&mut submits);

    // Cache hits.
    let service = LlmService::new(&cfg).unwrap();
    let mut session = service.session();
    let prompts: Vec<String> =
        (0..100).map(|i| format!("cached prompt number {i}, of a typical length for a question")).collect();
    for p in &prompts {
        session.call(LlmRequest::infer(p.clone())).unwrap();
    }
    let requests_before = server.requests();
    let hits_n = calls.max(1000) * 5;
    let mut hits = Vec::with_capacity(hits_n);
    for i in 0..hits_n {
        let started = Instant::now();
        let answer = session.call(LlmRequest::infer(prompts[i % prompts.len()].clone())).unwrap();
        hits.push(started.elapsed());
        assert!(answer.meta.cached);
    }
    assert_eq!(server.requests(), requests_before, "cache hits must not reach the server");
    let hit = Stats::of(&mut hits);

    println!("LLM client overhead against the loopback server ({calls} sequential calls, keep-alive, cache off)");
    println!("  call round trip     {call}");
    println!("  server handling     mean {}", us(server_mean));
    println!(
        "  client overhead     mean {}   (target < 1000 µs: {})",
        us(overhead),
        verdict(overhead < Duration::from_millis(1))
    );
    println!("  submit (miss)       {submit}");
    println!("Cache hits ({hits_n} calls over {} entries)", prompts.len());
    println!("  hit round trip      {hit}   (target < 200 µs: {})", verdict(hit.mean < Duration::from_micros(200)));
}

struct Stats {
    mean: Duration,
    p50: Duration,
    p99: Duration,
}

impl Stats {
    fn of(samples: &mut [Duration]) -> Stats {
        samples.sort();
        let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Stats { mean, p50: at(0.5), p99: at(0.99) }
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "mean {}  p50 {}  p99 {}", us(self.mean), us(self.p50), us(self.p99))
    }
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISSED"
    }
}
