use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

// tantivy and the parsers allocate many small objects; mimalloc cuts that cost noticeably
// (see benches/README.md)
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
