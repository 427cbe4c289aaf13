use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

// tantivy and the parsers allocate many small objects; mimalloc cuts that cost noticeably
// (see benches/README.md)
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Transparent huge pages make the kernel zero 2 MiB at every fault of memory the
    // allocator handed back and takes again. Events are built on one thread and freed on
    // others, so under a steady stream that zeroing took about a fifth of the core and halved
    // the lossless NetFlow rate (benches/README.md, "NetFlow end to end"). Off for this
    // process; an old kernel without the call simply keeps them.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let cli = canh_engine::cli::Cli::parse();
    // logs go to stderr; RUST_LOG overrides the default level
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tantivy=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    match canh_engine::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("canh: {e:#}");
            if e.downcast_ref::<canh_engine::cli::UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
