//! Criterion benches of the console (`canh_tui`) with 100,000 alerts in the queue — the
//! most the queue holds (`MAX_QUEUE_ALERTS`).
//!
//! - `tui_render`: one frame drawn into an off-screen terminal (ratatui's `TestBackend`, so
//!   the time is the render and the buffer diff, not the terminal's): the queue at 80×24 and
//!   160×48 with the cursor at the top and in the middle of the list, and an open alert.
//!   The aim is ≤ 10 ms a frame.
//! - `tui_update`: what happens between frames on 100,000 alerts — a live alert inserted in
//!   order, a cursor move, and a text filter applied to every alert.
//!
//! The alerts are generated (seeded by their index), so every run measures the same queue.

use std::hint::black_box;

use canh_tui::fixture;
use canh_tui::i18n::Lang;
use canh_tui::model::Alert;
use canh_tui::render::render;
use canh_tui::state::{App, MAX_QUEUE_ALERTS};
use canh_tui::update::{Msg, update};
use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn queue_app(size: (u16, u16)) -> App {
    let mut app = fixture::app(Lang::Vi, size);
    app.queue.replace(fixture::many_alerts(MAX_QUEUE_ALERTS));
    assert_eq!(app.queue.len(), MAX_QUEUE_ALERTS);
    app
}

fn bench_render(c: &mut Criterion) {
    let mut g = c.benchmark_group("tui_render");
    for size in [(80u16, 24u16), (160, 48)] {
        let mut app = queue_app(size);
        let mut term = Terminal::new(TestBackend::new(size.0, size.1)).expect("test backend");
        g.bench_function(format!("queue_100k_top_{}x{}", size.0, size.1), |b| {
            b.iter(|| {
                term.draw(|f| render(black_box(&app), f)).expect("draw");
            });
        });
        let h = app.queue_rows();
        app.queue.move_cursor((MAX_QUEUE_ALERTS / 2) as isize, h);
        g.bench_function(format!("queue_100k_middle_{}x{}", size.0, size.1), |b| {
            b.iter(|| {
                term.draw(|f| render(black_box(&app), f)).expect("draw");
            });
        });
    }
    let mut app = fixture::app_with_detail(Lang::Vi, (160, 48));
    app.queue.replace(fixture::many_alerts(MAX_QUEUE_ALERTS));
    let mut term = Terminal::new(TestBackend::new(160, 48)).expect("test backend");
    g.bench_function("detail_160x48", |b| {
        b.iter(|| {
            term.draw(|f| render(black_box(&app), f)).expect("draw");
        });
    });
    g.finish();
}

fn bench_update(c: &mut Criterion) {
    let mut g = c.benchmark_group("tui_update");
    g.sample_size(20);
    let base = queue_app((160, 48));
    let live: Alert = {
        let mut a = fixture::many_alerts(1).remove(0);
        a.id = 9_999_999;
        a.level = "high".into();
        a
    };
    g.bench_function("live_alert_into_100k", |b| {
        b.iter_batched(
            || (base.clone(), live.clone()),
            // the app is returned so that criterion drops it outside the timing
            |(mut app, a)| {
                let cmds = update(&mut app, Msg::AlertLive(Box::new(a)));
                (app, cmds)
            },
            criterion::BatchSize::LargeInput,
        );
    });
    let mut app = base.clone();
    let down = Msg::Key(KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE));
    g.bench_function("page_down_in_100k", |b| {
        b.iter(|| update(&mut app, down.clone()));
    });
    let mut app = base.clone();
    g.bench_function("text_filter_over_100k", |b| {
        b.iter(|| {
            app.queue.filter.text = "host-0042".into();
            app.queue.rebuild(None);
            black_box(app.queue.visible.len())
        });
    });
    g.finish();
}

criterion_group!(benches, bench_render, bench_update);
criterion_main!(benches);
