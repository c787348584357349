//! `omega-lsp`: the OmegaLLM language server, speaking LSP over stdin/stdout.

/// mimalloc, counting each thread's live bytes: each run's memory budget is its evaluation
/// thread's growth.
#[global_allocator]
static ALLOCATOR: omega_eval::memory::CountingAlloc<mimalloc::MiMalloc> =
    omega_eval::memory::CountingAlloc(mimalloc::MiMalloc);

fn main() {
    if std::env::args().nth(1).is_some_and(|a| a == "--version") {
        println!("omega-lsp {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("omega-lsp")
        .enable_all()
        .build()
        .expect("start the async runtime");
    runtime.block_on(omega_lsp::serve_stdio());
    // Runs and analyses still going must not hold up `exit`: end the process now.
    std::process::exit(0);
}
