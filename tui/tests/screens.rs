//! Screen snapshots: every screen of the console at 80×24 and 160×48, in English and
//! Vietnamese, drawn from the fixture state (no network). Review a changed snapshot by
//! reading it: it is what the officer sees.

use canh_tui::fixture;
use canh_tui::i18n::Lang;
use canh_tui::render::render;
use canh_tui::state::{App, CLOSE_REASONS, Conn, FilterForm, Modal, SuppressForm, Tab};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];
const LANGS: [Lang; 2] = [Lang::En, Lang::Vi];

fn draw(app: &App) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    t.draw(|f| render(app, f)).unwrap();
    t
}

/// Snapshots `make(lang, size)` in every language and size as `{name}_{lang}_{w}x{h}`.
fn check(name: &str, make: impl Fn(Lang, (u16, u16)) -> App) {
    for lang in LANGS {
        for size in SIZES {
            let app = make(lang, size);
            let t = draw(&app);
            let snap = format!("{name}_{lang}_{}x{}", size.0, size.1);
            insta::assert_snapshot!(snap, t.backend().to_string());
        }
    }
}

#[test]
fn queue() {
    check("queue", fixture::app);
}

#[test]
fn detail() {
    check("detail", fixture::app_with_detail);
}

#[test]
fn search() {
    check("search", |l, s| {
        let mut app = fixture::app(l, s);
        app.tab = Tab::Search;
        app
    });
}

#[test]
fn search_event() {
    check("search_event", fixture::app_with_event);
}

#[test]
fn overview() {
    check("overview", |l, s| {
        let mut app = fixture::app(l, s);
        app.tab = Tab::Overview;
        app
    });
}

#[test]
fn rules() {
    check("rules", |l, s| {
        let mut app = fixture::app(l, s);
        app.tab = Tab::Rules;
        app
    });
}

#[test]
fn help_overlay() {
    check("help", |l, s| {
        let mut app = fixture::app(l, s);
        app.modal = Some(Modal::Help);
        app
    });
}

#[test]
fn close_reason_prompt() {
    check("close", |l, s| {
        let mut app = fixture::app(l, s);
        app.modal = Some(Modal::Close {
            ids: vec![104, 105],
            choice: 1,
        });
        app
    });
    assert_eq!(CLOSE_REASONS.len(), 4);
}

#[test]
fn suppress_form() {
    check("suppress", |l, s| {
        let mut app = fixture::app_with_detail(l, s);
        let mut form = SuppressForm::for_alert(&app.detail.as_ref().unwrap().alert);
        form.values[6] = "Quét lỗ hổng định kỳ từ máy bastion".into();
        app.modal = Some(Modal::Suppress(form));
        app
    });
}

#[test]
fn filter_form() {
    check("filter", |l, s| {
        let mut app = fixture::app(l, s);
        let mut filter = app.queue.filter.clone();
        filter.min_level = Some(1);
        filter.host = "web".into();
        app.modal = Some(Modal::Filter(FilterForm { filter, focus: 3 }));
        app
    });
}

#[test]
fn disconnected_banner() {
    check("disconnected", |l, s| {
        let mut app = fixture::app(l, s);
        app.conn = Conn::Down {
            reason: "io: Connection refused (os error 111)".into(),
            retry_in_s: 4,
            attempt: 3,
        };
        app
    });
}

#[test]
fn no_color_leaves_only_reverse_video() {
    for make in [fixture::app, fixture::app_with_detail] {
        let mut app = make(Lang::Vi, (160, 48));
        app.color = false;
        let t = draw(&app);
        let mut reversed = 0;
        for cell in t.backend().buffer().content() {
            assert_eq!(cell.fg, Color::Reset, "{cell:?}");
            assert_eq!(cell.bg, Color::Reset, "{cell:?}");
            let m = cell.modifier;
            assert!(m.is_empty() || m == Modifier::REVERSED, "{cell:?}");
            reversed += usize::from(m == Modifier::REVERSED);
        }
        assert!(reversed > 0, "the cursor row is still shown");
    }
    let t = draw(&fixture::app(Lang::En, (80, 24)));
    assert!(
        t.backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg != Color::Reset),
        "colours are on by default"
    );
}

#[test]
fn every_screen_draws_at_tiny_sizes_without_panicking() {
    for (w, h) in [(1, 1), (20, 5), (40, 10), (79, 23)] {
        for lang in LANGS {
            let mut apps = vec![
                fixture::app(lang, (w, h)),
                fixture::app_with_detail(lang, (w, h)),
                fixture::app_with_event(lang, (w, h)),
            ];
            for tab in [Tab::Search, Tab::Overview, Tab::Rules] {
                let mut a = fixture::app(lang, (w, h));
                a.tab = tab;
                apps.push(a);
            }
            for m in [
                Modal::Help,
                Modal::Close {
                    ids: vec![1],
                    choice: 3,
                },
                Modal::Suppress(SuppressForm::default()),
                Modal::Filter(FilterForm::default()),
            ] {
                let mut a = fixture::app(lang, (w, h));
                a.modal = Some(m);
                apps.push(a);
            }
            for a in apps {
                draw(&a);
            }
        }
    }
}
