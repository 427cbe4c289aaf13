//! The console outside the `canh` binary, for working on it:
//!
//! ```sh
//! cargo run -p canh-tui --example console -- DATA [API-URL] [vi|en]
//! ```

fn main() {
    let mut args = std::env::args().skip(1);
    let data = args.next().unwrap_or_else(|| "canh-data".into());
    let api = args.next().filter(|a| !a.is_empty());
    let lang = args.next().map(|l| {
        l.parse().unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        })
    });
    let opts = canh_tui::Options {
        data: data.into(),
        api,
        lang,
        ..Default::default()
    };
    if let Err(e) = canh_tui::run(opts) {
        eprintln!("canh tui: {e}");
        std::process::exit(1);
    }
}
