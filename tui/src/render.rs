//! `render(&App, &mut Frame)`: the screen as a pure function of the state. Lists draw only the
//! rows in view, so a queue of 100,000 alerts costs what a screenful costs.

use chrono::{DateTime, FixedOffset, Utc};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Padding, Paragraph, Row, Sparkline, Table};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::i18n::{Lang, T};
use crate::model::{Alert, EngineStatus, level_rank};
use crate::state::{
    App, CLOSE_REASONS, Conn, DetailView, FilterForm, Modal, PromptKind, SUPPRESS_FIELDS,
    SuppressForm, Tab, scroll_window,
};

/// Columns from which the wide layouts (full level and status names, group column …) show.
const WIDE: u16 = 120;
/// A status older than this is shown as stale, in seconds (the engine writes one a second).
const STALE_SECS: i64 = 10;
/// Rows under the event view's table that show the focused value in full.
pub const EVENT_PANE_ROWS: u16 = 4;
/// Rows of top sources and top rules on the overview.
const TOP_ROWS: usize = 8;

/// Styles, or none of them under `NO_COLOR` (reverse video for the cursor stays).
#[derive(Clone, Copy)]
struct Theme {
    color: bool,
}

impl Theme {
    fn pick(self, s: Style) -> Style {
        if self.color { s } else { Style::new() }
    }
    fn cursor(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    fn level(self, level: &str) -> Style {
        self.pick(match level_rank(level) {
            0 => Style::new()
                .fg(Color::LightRed)
                .add_modifier(Modifier::BOLD),
            1 => Style::new().fg(Color::Red),
            2 => Style::new().fg(Color::Yellow),
            3 => Style::new().fg(Color::Cyan),
            _ => Style::new().fg(Color::Gray),
        })
    }
    fn title_bar(self) -> Style {
        self.pick(Style::new().fg(Color::Black).bg(Color::Cyan))
    }
    fn tab_active(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::White)
                .bg(Color::Blue)
                .add_modifier(Modifier::BOLD)
        } else {
            self.cursor()
        }
    }
    fn dim(self) -> Style {
        self.pick(Style::new().fg(Color::DarkGray))
    }
    fn bold(self) -> Style {
        self.pick(Style::new().add_modifier(Modifier::BOLD))
    }
    fn key(self) -> Style {
        self.pick(Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD))
    }
    fn label(self) -> Style {
        self.pick(Style::new().fg(Color::Cyan))
    }
    fn error(self) -> Style {
        self.pick(
            Style::new()
                .fg(Color::LightRed)
                .add_modifier(Modifier::BOLD),
        )
    }
    fn warn(self) -> Style {
        self.pick(Style::new().fg(Color::Yellow))
    }
    fn ok(self) -> Style {
        self.pick(Style::new().fg(Color::Green))
    }
    fn banner_down(self) -> Style {
        self.pick(
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        )
    }
    fn banner_warn(self) -> Style {
        self.pick(Style::new().fg(Color::Black).bg(Color::Yellow))
    }
    fn highlight(self) -> Style {
        self.pick(
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        )
    }
    fn fresh(self) -> Style {
        self.pick(Style::new().add_modifier(Modifier::BOLD))
    }
    fn mitre(self) -> Style {
        self.pick(Style::new().fg(Color::Magenta))
    }
}

/// Draws the whole console.
pub fn render(app: &App, f: &mut Frame<'_>) {
    let th = Theme { color: app.color };
    let area = f.area();
    let [header, banner, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(app.banner())),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(app, th, f, header);
    if app.banner() {
        render_banner(app, th, f, banner);
    }
    match app.tab {
        Tab::Alerts => match &app.detail {
            Some(v) => render_detail(app, th, v, f, body),
            None => render_queue(app, th, f, body),
        },
        Tab::Search => render_search(app, th, f, body),
        Tab::Overview => render_overview(app, th, f, body),
        Tab::Rules => render_rules(app, th, f, body),
    }
    render_footer(app, th, f, footer);
    if let Some(m) = &app.modal {
        render_modal(app, th, m, f, body);
    }
}

// ---------------------------------------------------------------- helpers

/// `s` cut to `width` columns (with … when cut).
fn fit(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// `s` cut or padded with spaces to exactly `width` columns.
fn pad(s: &str, width: usize) -> String {
    let mut out = fit(s, width);
    let w = out.width();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(w)));
    out
}

fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

/// A time in the console's zone: `HH:MM:SS` today, `MM-DD HH:MM` before.
fn short_time(app: &App, s: &str) -> String {
    let Some(t) = parse_time(s) else {
        return s.chars().take(11).collect();
    };
    let t = t.with_timezone(&app.tz);
    if t.date_naive() == app.now.with_timezone(&app.tz).date_naive() {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%m-%d %H:%M").to_string()
    }
}

/// A time in the console's zone, in full.
fn long_time(app: &App, s: &str) -> String {
    match parse_time(s) {
        Some(t) => t
            .with_timezone(&app.tz)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        None => s.to_owned(),
    }
}

/// A duration as `12 s`, `5 min`, `3 h`, `2 d`.
fn span_text(lang: Lang, secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 120 {
        T::AgoSeconds.fmt(lang, &[&secs])
    } else if secs < 7200 {
        T::AgoMinutes.fmt(lang, &[&(secs / 60)])
    } else if secs < 172_800 {
        T::AgoHours.fmt(lang, &[&(secs / 3600)])
    } else {
        T::AgoDays.fmt(lang, &[&(secs / 86_400)])
    }
}

fn level_label(app: &App, level: &str, short: bool) -> &'static str {
    let t = match (level_rank(level), short) {
        (0, false) => T::LvCritical,
        (1, false) => T::LvHigh,
        (2, false) => T::LvMedium,
        (3, false) => T::LvLow,
        (_, false) => T::LvInfo,
        (0, true) => T::LvCriticalShort,
        (1, true) => T::LvHighShort,
        (2, true) => T::LvMediumShort,
        (3, true) => T::LvLowShort,
        (_, true) => T::LvInfoShort,
    };
    app.t(t)
}

fn status_label(app: &App, status: &str, short: bool) -> String {
    let t = match (status, short) {
        ("new", false) => T::StNew,
        ("acknowledged", false) => T::StAcknowledged,
        ("closed", false) => T::StClosed,
        ("new", true) => T::StNewShort,
        ("acknowledged", true) => T::StAckShort,
        ("closed", true) => T::StClosedShort,
        (other, _) => return other.to_owned(),
    };
    app.t(t).to_owned()
}

fn kind_label(app: &App, kind: &str) -> String {
    match kind {
        "detection" => app.t(T::KindDetection).to_owned(),
        "correlation" => app.t(T::KindCorrelation).to_owned(),
        "silent_source" => app.t(T::KindSilent).to_owned(),
        other => other.to_owned(),
    }
}

fn history_label(app: &App, action: &str) -> String {
    let t = match action {
        "created" => T::HistCreated,
        "acknowledged" => T::HistAcknowledged,
        "assigned" => T::HistAssigned,
        "closed" => T::HistClosed,
        "reopened" => T::HistReopened,
        "note" => T::HistNote,
        other => return other.to_owned(),
    };
    app.t(t).to_owned()
}

fn reason_label(app: &App, reason: &str) -> String {
    CLOSE_REASONS
        .iter()
        .find(|(n, _)| *n == reason)
        .map_or_else(|| reason.to_owned(), |(_, t)| app.t(*t).to_owned())
}

/// Splits `text` into spans with every occurrence of a needle (ASCII case ignored) in the
/// highlight style.
fn highlighted<'a>(text: &'a str, needles: &[&str], base: Style, hl: Style) -> Vec<Span<'a>> {
    let lower = text.to_ascii_lowercase();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for n in needles {
        if n.trim().is_empty() {
            continue;
        }
        let n = n.to_ascii_lowercase();
        let mut from = 0;
        while let Some(i) = lower[from..].find(&n) {
            let s = from + i;
            ranges.push((s, s + n.len()));
            from = s + n.len().max(1);
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let mut out = Vec::new();
    let mut at = 0;
    for (s, e) in merged {
        if s > at {
            out.push(Span::styled(&text[at..s], base));
        }
        out.push(Span::styled(&text[s..e], hl));
        at = e;
    }
    if at < text.len() {
        out.push(Span::styled(&text[at..], base));
    }
    out
}

/// Wraps styled spans to `width` columns, at a space when the line has one, else inside a
/// word; continuation lines start with `indent` spaces.
fn wrap(spans: Vec<Span<'_>>, width: usize, indent: usize) -> Vec<Line<'static>> {
    let width = width.max(indent + 8);
    let mut cells: Vec<(char, Style, usize)> = Vec::new();
    for sp in &spans {
        for c in sp.content.chars() {
            let c = if c == '\t' || c.is_control() { ' ' } else { c };
            cells.push((c, sp.style, c.width().unwrap_or(0)));
        }
    }
    let mut lines = Vec::new();
    let mut start = 0;
    let mut first = true;
    while start < cells.len() || first {
        let room = if first { width } else { width - indent };
        let mut w = 0;
        let mut end = start;
        let mut last_space = None;
        while end < cells.len() && w + cells[end].2 <= room {
            if cells[end].0 == ' ' && end > start {
                last_space = Some(end);
            }
            w += cells[end].2;
            end += 1;
        }
        let (stop, next) = match last_space {
            Some(sp) if end < cells.len() && cells[end].0 != ' ' => (sp, sp + 1),
            _ if end < cells.len() && cells[end].0 == ' ' => (end, end + 1),
            _ => (
                end.max(start + usize::from(start < cells.len())),
                end.max(start + 1),
            ),
        };
        let mut out: Vec<Span<'static>> = Vec::new();
        if !first {
            out.push(Span::raw(" ".repeat(indent)));
        }
        let mut buf = String::new();
        let mut style = None;
        for &(c, st, _) in &cells[start..stop.min(cells.len())] {
            if style.is_some_and(|s| s != st) {
                out.push(Span::styled(
                    std::mem::take(&mut buf),
                    style.unwrap_or_default(),
                ));
            }
            style = Some(st);
            buf.push(c);
        }
        if !buf.is_empty() {
            out.push(Span::styled(buf, style.unwrap_or_default()));
        }
        lines.push(Line::from(out));
        start = next;
        first = false;
    }
    lines
}

/// A rectangle of at most `w`×`h` centred in `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn block<'a>(th: Theme, title: impl Into<String>) -> Block<'a> {
    Block::bordered()
        .title(Span::styled(format!(" {} ", title.into()), th.bold()))
        .border_style(th.dim())
}

// ---------------------------------------------------------------- header, banner, footer

fn render_header(app: &App, th: Theme, f: &mut Frame<'_>, area: Rect) {
    let c = app.queue.counts;
    let right = Line::from(vec![
        Span::styled(format!("{} {}", app.t(T::StNewShort), c.new), th.bold()),
        Span::raw(" · "),
        Span::raw(format!("{} {}", app.t(T::StAckShort), c.acknowledged)),
        Span::raw(" · "),
        Span::raw(format!("{} {} ", app.t(T::StClosedShort), c.closed)),
    ]);
    let rw = right.width() as u16;
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(rw)]).areas(area);
    let mut spans = vec![Span::styled(" canh ", th.tab_active()), Span::raw(" ")];
    for (i, t) in Tab::ALL.iter().enumerate() {
        let text = format!(" {} {} ", i + 1, app.t(t.title()));
        if *t == app.tab {
            spans.push(Span::styled(text, th.tab_active()));
        } else {
            spans.push(Span::raw(text));
        }
    }
    f.render_widget(
        Paragraph::new(Line::from(spans)).style(th.title_bar()),
        left_area,
    );
    f.render_widget(Paragraph::new(right).style(th.title_bar()), right_area);
}

fn render_banner(app: &App, th: Theme, f: &mut Frame<'_>, area: Rect) {
    let (text, style) = match &app.conn {
        Conn::Connecting => (T::Connecting.fmt(app.lang, &[&app.api]), th.banner_warn()),
        Conn::Down {
            reason,
            retry_in_s,
            attempt,
        } => (
            T::Disconnected.fmt(app.lang, &[retry_in_s, attempt, &app.api, reason]),
            th.banner_down(),
        ),
        Conn::Up => (app.t(T::StreamDown).to_owned(), th.banner_warn()),
    };
    let text = fit(&format!(" ⚠ {text}"), area.width as usize);
    f.render_widget(Paragraph::new(text).style(style), area);
}

/// The keys of the current screen, most useful first.
fn footer_keys(app: &App) -> Vec<(&'static str, T)> {
    if let Some(m) = &app.modal {
        return match m {
            Modal::Help => vec![("Esc", T::KeyBack)],
            Modal::Close { .. } => vec![
                ("1-4", T::KeySelect),
                ("Enter", T::KeyClose),
                ("Esc", T::KeyCancel),
            ],
            Modal::Filter(_) => vec![
                ("Tab", T::KeyNext),
                ("←→", T::KeyChange),
                ("Enter", T::KeyApply),
                ("Esc", T::KeyCancel),
            ],
            Modal::Suppress(_) => vec![
                ("Tab", T::KeyNext),
                ("Enter", T::KeySave),
                ("Esc", T::KeyCancel),
            ],
            Modal::Prompt { .. } => vec![("Enter", T::KeySave), ("Esc", T::KeyCancel)],
        };
    }
    match app.tab {
        Tab::Alerts if app.detail.is_some() => vec![
            ("a", T::KeyAck),
            ("c", T::KeyClose),
            ("s", T::KeySuppress),
            ("n", T::KeyNote),
            ("A", T::KeyAssign),
            ("e", T::KeyEvents),
            ("Esc", T::KeyBack),
        ],
        Tab::Alerts => vec![
            ("Enter", T::KeyOpen),
            ("a", T::KeyAck),
            ("c", T::KeyClose),
            ("s", T::KeySuppress),
            ("n", T::KeyNote),
            ("A", T::KeyAssign),
            ("Space", T::KeySelect),
            ("/", T::KeyFilter),
            ("f", T::KeyFilters),
            ("1-4", T::KeyScreens),
        ],
        Tab::Search if app.search.editing => vec![("Enter", T::KeyRun), ("Esc", T::KeyBack)],
        Tab::Search if app.search.event.is_some() => {
            vec![("Enter", T::KeyPivot), ("Esc", T::KeyBack)]
        }
        Tab::Search => vec![
            ("/", T::KeyEdit),
            ("Enter", T::KeyOpen),
            ("t", T::KeyRange),
            ("1-4", T::KeyScreens),
        ],
        Tab::Overview => vec![("1-4", T::KeyScreens)],
        Tab::Rules => vec![("r", T::KeyReload), ("1-4", T::KeyScreens)],
    }
}

fn render_footer(app: &App, th: Theme, f: &mut Frame<'_>, area: Rect) {
    if let Some(fl) = &app.flash {
        let style = if fl.error { th.error() } else { th.ok() };
        let text = fit(&format!(" {}", fl.text), area.width as usize);
        f.render_widget(Paragraph::new(Span::styled(text, style)), area);
        return;
    }
    let item = |k: &'static str, t: T| -> Vec<Span<'static>> {
        vec![
            Span::styled(k, th.key()),
            Span::raw(format!(" {}  ", app.t(t))),
        ]
    };
    let width = |v: &[Span<'_>]| v.iter().map(Span::width).sum::<usize>();
    let mut tail = Vec::new();
    if app.modal.is_none() && !(app.tab == Tab::Search && app.search.editing) {
        tail.extend(item("?", T::KeyHelp));
        tail.extend(item("q", T::KeyQuit));
    }
    let room = (area.width as usize).saturating_sub(width(&tail) + 1);
    let mut spans = vec![Span::raw(" ")];
    for (k, t) in footer_keys(app) {
        let it = item(k, t);
        if width(&spans) + width(&it) > room {
            break;
        }
        spans.extend(it);
    }
    spans.extend(tail);
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

// ---------------------------------------------------------------- alert queue

fn filter_summary(app: &App) -> String {
    let fl = &app.queue.filter;
    let mut parts = vec![app.t(fl.status.label()).to_owned()];
    if let Some(m) = fl.min_level {
        let l = crate::model::LEVELS[m as usize];
        parts.push(format!("≥{}", level_label(app, l, false)));
    }
    for (t, v) in [
        (T::FieldRule, &fl.rule),
        (T::FieldHost, &fl.host),
        (T::FieldText, &fl.text),
    ] {
        if !v.trim().is_empty() {
            parts.push(format!("{} \"{}\"", app.t(t), v.trim()));
        }
    }
    parts.join(", ")
}

fn render_queue(app: &App, th: Theme, f: &mut Frame<'_>, area: Rect) {
    let q = &app.queue;
    let [info, table] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);

    let mut spans = vec![
        Span::styled(
            format!(
                " {}",
                T::QueueShown.fmt(app.lang, &[&q.visible.len(), &q.len()])
            ),
            th.bold(),
        ),
        Span::styled(format!(" · {}: ", app.t(T::FilterLabel)), th.dim()),
        Span::raw(filter_summary(app)),
    ];
    if !q.selected.is_empty() {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(
            T::QueueSelected.fmt(app.lang, &[&q.selected.len()]),
            th.warn(),
        ));
    }
    if !q.fresh.is_empty() {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(
            T::QueueLive.fmt(app.lang, &[&q.fresh.len()]),
            th.fresh(),
        ));
    }
    if q.loading {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(app.t(T::QueueLoading), th.dim()));
    }
    if q.truncated {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(
            T::QueueTruncated.fmt(app.lang, &[&q.len()]),
            th.warn(),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), info);

    let wide = area.width >= WIDE;
    let mut widths = vec![
        Constraint::Length(2),
        Constraint::Length(if wide { 12 } else { 5 }),
        Constraint::Length(if wide { 12 } else { 6 }),
        Constraint::Length(11),
        Constraint::Length(6),
        Constraint::Fill(1),
    ];
    let mut head = vec![
        String::new(),
        app.t(T::ColLevel).to_owned(),
        app.t(if wide {
            T::ColStatus
        } else {
            T::ColStatusShort
        })
        .to_owned(),
        app.t(T::ColLastSeen).to_owned(),
        format!("{:>6}", app.t(T::ColCount)),
        app.t(T::ColAlert).to_owned(),
    ];
    if wide {
        widths.push(Constraint::Length(44));
        widths.push(Constraint::Length(12));
        head.push(app.t(T::ColGroup).to_owned());
        head.push(app.t(T::ColAssignee).to_owned());
    }
    let height = (table.height as usize).saturating_sub(1);
    let offset = scroll_window(q.cursor, q.offset, height, q.visible.len());
    let rows: Vec<Row<'_>> = (offset..(offset + height).min(q.visible.len()))
        .filter_map(|r| q.row(r).map(|a| (r, a)))
        .map(|(r, a)| queue_row(app, th, a, r == q.cursor, wide))
        .collect();
    let empty = rows.is_empty();
    let t = Table::new(rows, widths)
        .header(Row::new(head).style(th.dim()))
        .column_spacing(1);
    f.render_widget(t, table);
    if empty {
        let msg = if q.loading || app.conn == Conn::Connecting {
            T::QueueLoading
        } else if q.is_empty() {
            T::QueueEmpty
        } else {
            T::QueueNoMatch
        };
        let r = Rect {
            y: table.y + 2,
            height: 1,
            ..table
        };
        if table.height > 2 {
            f.render_widget(
                Paragraph::new(Span::styled(app.t(msg), th.dim())).alignment(Alignment::Center),
                r,
            );
        }
    }
}

fn queue_row<'a>(app: &App, th: Theme, a: &'a Alert, cursor: bool, wide: bool) -> Row<'a> {
    let selected = app.queue.selected.contains(&a.id);
    let fresh = app.queue.fresh.contains(&a.id);
    // the cursor also shows as ▶, for terminals and eyes that miss reverse video
    let mark = match (cursor, selected, fresh) {
        (true, true, _) => "▶✓",
        (true, false, true) => "▶●",
        (true, false, false) => "▶ ",
        (false, true, _) => " ✓",
        (false, false, true) => " ●",
        (false, false, false) => "  ",
    };
    let title_style = if fresh { th.fresh() } else { Style::new() };
    let status_style = match a.status.as_str() {
        "new" => th.bold(),
        "closed" => th.dim(),
        _ => Style::new(),
    };
    let mut cells = vec![
        Cell::from(Span::styled(mark, th.warn())),
        Cell::from(Span::styled(
            level_label(app, &a.level, !wide),
            th.level(&a.level),
        )),
        Cell::from(Span::styled(
            status_label(app, &a.status, !wide),
            status_style,
        )),
        Cell::from(short_time(app, &a.last_seen)),
        Cell::from(format!("{:>6}", a.count)),
        Cell::from(Span::styled(a.title.as_str(), title_style)),
    ];
    if wide {
        cells.push(Cell::from(Span::styled(a.group_text(), th.dim())));
        cells.push(Cell::from(a.assignee.clone().unwrap_or_default()));
    }
    let row = Row::new(cells);
    if cursor { row.style(th.cursor()) } else { row }
}

// ---------------------------------------------------------------- alert detail

/// The detail's lines wrapped to `width` columns (the update keeps its scroll inside them).
pub fn detail_lines(app: &App, v: &DetailView, width: usize) -> Vec<Line<'static>> {
    let th = Theme { color: app.color };
    let a = &v.alert;
    let mut out: Vec<Line<'static>> = Vec::new();
    let label = |t: T| Span::styled(format!("{}: ", app.t(t)), th.label());
    let push = |spans: Vec<Span<'_>>, indent: usize, out: &mut Vec<Line<'static>>| {
        out.extend(wrap(spans, width, indent));
    };
    let section = |t: &str, out: &mut Vec<Line<'static>>| {
        out.push(Line::raw(""));
        out.push(Line::from(Span::styled(format!("── {t} ──"), th.bold())));
    };

    push(
        vec![
            Span::styled(
                format!(" {} ", level_label(app, &a.level, false).to_uppercase()),
                th.level(&a.level).add_modifier(Modifier::REVERSED),
            ),
            Span::raw(" "),
            Span::styled(a.title.clone(), th.bold()),
        ],
        2,
        &mut out,
    );
    let mut status = vec![
        label(T::DetailStatus),
        Span::styled(status_label(app, &a.status, false), th.bold()),
    ];
    if let Some(r) = &a.close_reason {
        status.push(Span::raw(format!(" ({})", reason_label(app, r))));
    }
    status.push(Span::raw("   "));
    status.push(label(T::DetailAssignee));
    status.push(Span::raw(
        a.assignee
            .clone()
            .unwrap_or_else(|| app.t(T::DetailNobody).to_owned()),
    ));
    push(status, 2, &mut out);
    let mut rule = vec![
        label(T::DetailRule),
        Span::raw(a.rule.clone()),
        Span::raw("   "),
        label(T::DetailKind),
        Span::raw(kind_label(app, &a.kind)),
        Span::raw("   "),
        label(T::DetailCount),
        Span::styled(a.count.to_string(), th.bold()),
    ];
    if let Some(val) = a.value {
        rule.push(Span::raw("   "));
        rule.push(label(T::DetailValue));
        rule.push(Span::raw(val.to_string()));
    }
    push(rule, 2, &mut out);
    push(
        vec![
            label(T::DetailFirstSeen),
            Span::raw(long_time(app, &a.first_seen)),
            Span::raw("   "),
            label(T::DetailLastSeen),
            Span::raw(long_time(app, &a.last_seen)),
        ],
        2,
        &mut out,
    );
    push(
        vec![
            label(T::DetailGroup),
            Span::styled(a.group_text(), th.bold()),
        ],
        2,
        &mut out,
    );
    let (mitre, other): (Vec<&String>, Vec<&String>) =
        a.tags.iter().partition(|t| t.starts_with("attack."));
    if !mitre.is_empty() {
        let text = mitre
            .iter()
            .map(|t| {
                let t = t.trim_start_matches("attack.");
                if t.starts_with('t') && t[1..].starts_with(|c: char| c.is_ascii_digit()) {
                    t.to_uppercase()
                } else {
                    t.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        push(
            vec![label(T::DetailMitre), Span::styled(text, th.mitre())],
            2,
            &mut out,
        );
    }
    if !other.is_empty() {
        let text = other
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        push(vec![label(T::DetailTags), Span::raw(text)], 2, &mut out);
    }
    if let Some(d) = a.description.as_deref().filter(|d| !d.trim().is_empty()) {
        out.push(Line::raw(""));
        for para in d.trim().lines() {
            push(vec![Span::raw(para.to_owned())], 0, &mut out);
        }
    }

    let needles: Vec<&str> = a
        .matched
        .values()
        .chain(a.group.values())
        .map(String::as_str)
        .collect();
    if !a.matched.is_empty() {
        section(app.t(T::DetailMatched), &mut out);
        let kw = a.matched.keys().map(|k| k.width()).max().unwrap_or(0);
        for (k, val) in &a.matched {
            push(
                vec![
                    Span::styled(format!("  {} = ", pad(k, kw)), th.label()),
                    Span::styled(val.clone(), th.highlight()),
                ],
                kw + 5,
                &mut out,
            );
        }
    }

    match &v.data {
        None => {
            out.push(Line::raw(""));
            let text = match &v.error {
                Some(e) => Span::styled(T::ErrorPrefix.fmt(app.lang, &[e]), th.error()),
                None => Span::styled(app.t(T::DetailLoading).to_owned(), th.dim()),
            };
            out.push(Line::from(text));
        }
        Some(d) => {
            section(
                &T::DetailSamples.fmt(app.lang, &[&d.samples.len()]),
                &mut out,
            );
            if d.samples.is_empty() {
                out.push(Line::from(Span::styled(
                    format!("  {}", app.t(T::DetailNoSamples)),
                    th.dim(),
                )));
            }
            for (i, s) in d.samples.iter().enumerate() {
                if i > 0 {
                    out.push(Line::raw(""));
                }
                let mut sample_needles = needles.clone();
                sample_needles.extend(s.fields.values().map(String::as_str));
                let mut head = vec![
                    Span::styled(format!("  {} ", long_time(app, &s.time)), th.dim()),
                    Span::styled(format!("{} ", s.host.as_deref().unwrap_or("-")), th.bold()),
                ];
                if let Some(m) = &s.message {
                    head.extend(highlighted(
                        m,
                        &sample_needles,
                        Style::new(),
                        th.highlight(),
                    ));
                }
                push(head, 4, &mut out);
                let mut raw = vec![Span::styled(
                    format!("    {}: ", app.t(T::DetailRaw)),
                    th.dim(),
                )];
                raw.extend(highlighted(
                    &s.raw,
                    &sample_needles,
                    th.dim(),
                    th.highlight(),
                ));
                push(raw, 6, &mut out);
            }
            section(app.t(T::DetailHistory), &mut out);
            if d.history.is_empty() {
                out.push(Line::from(Span::styled(
                    format!("  {}", app.t(T::DetailNoHistory)),
                    th.dim(),
                )));
            }
            for h in &d.history {
                let detail = h.detail_text();
                let mut spans = vec![
                    Span::styled(format!("  {} ", long_time(app, &h.at)), th.dim()),
                    Span::styled(format!("{} ", h.actor), th.bold()),
                    Span::styled(history_label(app, &h.action), th.label()),
                ];
                if !detail.is_empty() {
                    spans.push(Span::raw(format!(": {detail}")));
                }
                push(spans, 4, &mut out);
            }
        }
    }
    out
}

fn render_detail(app: &App, th: Theme, v: &DetailView, f: &mut Frame<'_>, area: Rect) {
    let b = block(th, format!("#{}", v.id)).padding(Padding::horizontal(1));
    let inner = b.inner(area);
    let lines = detail_lines(app, v, inner.width as usize);
    let max = lines.len().saturating_sub(inner.height as usize);
    let scroll = (v.scroll as usize).min(max);
    let b = if lines.len() > inner.height as usize {
        let last = (scroll + inner.height as usize).min(lines.len());
        b.title_bottom(
            Line::from(format!(" {}–{}/{} ", scroll + 1, last, lines.len())).right_aligned(),
        )
    } else {
        b
    };
    f.render_widget(b, area);
    f.render_widget(Paragraph::new(lines).scroll((scroll as u16, 0)), inner);
}

// ---------------------------------------------------------------- search

fn range_text(app: &App) -> String {
    match &app.search.custom {
        Some((from, to)) => {
            T::RangeCustom.fmt(app.lang, &[&long_time(app, from), &long_time(app, to)])
        }
        None => app.t(app.search.range.label()).to_owned(),
    }
}

fn render_search(app: &App, th: Theme, f: &mut Frame<'_>, area: Rect) {
    let s = &app.search;
    let [bar, info, table] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Fill(1),
    ])
    .areas(area);

    let title = format!(
        "{} · {}: {} (t)",
        app.t(T::SearchQuery),
        app.t(T::SearchRange),
        range_text(app)
    );
    let mut b = block(th, title);
    if s.editing {
        b = b.border_style(th.key());
    }
    let inner = b.inner(bar);
    f.render_widget(b, bar);
    let q = if s.query.is_empty() && !s.editing {
        Span::styled(app.t(T::SearchPrompt), th.dim())
    } else {
        Span::raw(s.query.as_str())
    };
    // keep the end of a long query in view while typing
    let qw = s.query.width() as u16;
    let hscroll = if s.editing {
        (qw + 1).saturating_sub(inner.width)
    } else {
        0
    };
    f.render_widget(Paragraph::new(Line::from(q)).scroll((0, hscroll)), inner);
    if s.editing {
        f.set_cursor_position(Position {
            x: inner.x
                + qw.saturating_sub(hscroll)
                    .min(inner.width.saturating_sub(1)),
            y: inner.y,
        });
    }

    let summary = if s.running {
        Span::styled(format!(" {}", app.t(T::SearchRunning)), th.dim())
    } else if let Some(e) = &s.error {
        Span::styled(
            format!(" {}", T::ErrorPrefix.fmt(app.lang, &[e])),
            th.error(),
        )
    } else if let Some(ran) = &s.ran {
        if s.hits.is_empty() {
            Span::styled(format!(" {} — {ran}", app.t(T::SearchNone)), th.dim())
        } else {
            Span::styled(
                format!(
                    " {} — {ran}",
                    T::SearchCount.fmt(app.lang, &[&s.hits.len()])
                ),
                th.bold(),
            )
        }
    } else {
        Span::raw("")
    };
    f.render_widget(Paragraph::new(fit_line(summary, info.width)), info);

    if let Some(ev) = &s.event {
        render_event(app, th, ev, f, table);
        return;
    }
    let wide = area.width >= WIDE;
    let widths = [
        Constraint::Length(1),
        Constraint::Length(if wide { 19 } else { 14 }),
        Constraint::Length(if wide { 20 } else { 14 }),
        Constraint::Fill(1),
    ];
    let height = (table.height as usize).saturating_sub(1);
    let offset = scroll_window(s.cursor, s.offset, height, s.hits.len());
    let rows: Vec<Row<'_>> = s
        .hits
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, h)| {
            let time = match parse_time(h.time()) {
                Some(t) => {
                    let t = t.with_timezone(&app.tz);
                    if wide {
                        t.format("%Y-%m-%d %H:%M:%S").to_string()
                    } else {
                        t.format("%m-%d %H:%M:%S").to_string()
                    }
                }
                None => h.time().to_owned(),
            };
            let row = Row::new(vec![
                Cell::from(cursor_mark(i == s.cursor)),
                Cell::from(Span::styled(time, th.dim())),
                Cell::from(h.host().to_owned()),
                Cell::from(h.message().replace(['\n', '\r', '\t'], " ")),
            ]);
            if i == s.cursor {
                row.style(th.cursor())
            } else {
                row
            }
        })
        .collect();
    let head = Row::new(vec![
        "",
        app.t(T::ColTime),
        app.t(T::ColHost),
        app.t(T::ColMessage),
    ])
    .style(th.dim());
    f.render_widget(
        Table::new(rows, widths).header(head).column_spacing(1),
        table,
    );
}

/// `▶` on the cursor row (beside the reverse video), for terminals and eyes that miss it.
fn cursor_mark(on: bool) -> &'static str {
    if on { "▶" } else { " " }
}

fn fit_line(span: Span<'_>, width: u16) -> Line<'static> {
    Line::from(Span::styled(fit(&span.content, width as usize), span.style))
}

fn render_event(app: &App, th: Theme, ev: &crate::state::EventView, f: &mut Frame<'_>, area: Rect) {
    let Some(hit) = app.search.hits.get(ev.index) else {
        return;
    };
    let b = block(
        th,
        T::EventTitle.fmt(app.lang, &[&(ev.index + 1), &app.search.hits.len()]),
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    // the focused value in full under the table, wrapped (4 rows: a rule and 3 lines)
    let [inner, pane] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(EVENT_PANE_ROWS)]).areas(inner);
    if let Some((k, v)) = hit.fields.get(ev.cursor) {
        let pb = Block::new().borders(Borders::TOP).border_style(th.dim());
        let pi = pb.inner(pane);
        f.render_widget(pb, pane);
        let spans = vec![
            Span::styled(format!("{k}: "), th.label()),
            Span::raw(v.replace(['\n', '\r', '\t'], " ")),
        ];
        f.render_widget(Paragraph::new(wrap(spans, pi.width as usize, 2)), pi);
    }
    let kw = hit
        .fields
        .iter()
        .map(|(k, _)| k.width())
        .max()
        .unwrap_or(0)
        .clamp(8, (inner.width as usize / 3).max(8)) as u16;
    let height = (inner.height as usize).saturating_sub(1);
    let offset = scroll_window(ev.cursor, ev.offset, height, hit.fields.len());
    let rows: Vec<Row<'_>> = hit
        .fields
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, (k, v))| {
            let row = Row::new(vec![
                Cell::from(cursor_mark(i == ev.cursor)),
                Cell::from(Span::styled(k.as_str(), th.label())),
                Cell::from(v.replace(['\n', '\r', '\t'], " ")),
            ]);
            if i == ev.cursor {
                row.style(th.cursor())
            } else {
                row
            }
        })
        .collect();
    let head = Row::new(vec!["", app.t(T::ColField), app.t(T::ColValue)]).style(th.dim());
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(1),
                Constraint::Length(kw),
                Constraint::Fill(1),
            ],
        )
        .header(head)
        .column_spacing(1),
        inner,
    );
}

// ---------------------------------------------------------------- overview

fn render_overview(app: &App, th: Theme, f: &mut Frame<'_>, area: Rect) {
    let Some(st) = &app.overview.status else {
        let r = centered(area, area.width, 1);
        f.render_widget(
            Paragraph::new(Span::styled(app.t(T::OvWaiting), th.dim()))
                .alignment(Alignment::Center),
            r,
        );
        return;
    };
    let series = app.overview.series.len().max(1) as u16;
    // two rows per listener, at most half the body
    let list_h = (series * 2 + 2).min(area.height / 2).max(4);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(list_h), Constraint::Fill(1)]).areas(area);
    render_listeners(app, th, st, f, top);

    if area.width >= WIDE {
        let [a, b, c] = Layout::horizontal([
            Constraint::Percentage(40),
            Constraint::Percentage(30),
            Constraint::Percentage(30),
        ])
        .areas(bottom);
        render_health(app, th, st, f, a);
        render_top_sources(app, th, st, f, b);
        render_top_rules(app, th, st, f, c);
    } else {
        let [a, right] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(bottom);
        let [b, c] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(right);
        render_health(app, th, st, f, a);
        render_top_sources(app, th, st, f, b);
        render_top_rules(app, th, st, f, c);
    }
}

fn render_listeners(app: &App, th: Theme, st: &EngineStatus, f: &mut Frame<'_>, area: Rect) {
    let b = block(th, app.t(T::OvListeners));
    let inner = b.inner(area);
    f.render_widget(b, area);
    let mut y = inner.y;
    for s in &app.overview.series {
        if y + 1 >= inner.y + inner.height {
            break;
        }
        let rate = s.points.back().copied().unwrap_or(0);
        let mut spans = vec![
            Span::styled(s.name.clone(), th.bold()),
            Span::raw("  "),
            Span::styled(T::OvRate.fmt(app.lang, &[&rate]), th.ok()),
        ];
        if let Some(l) = st.listeners.iter().find(|l| l.url == s.name) {
            let drops = l.dropped_queue + l.dropped_kernel;
            spans.push(Span::raw(format!("  {} ", app.t(T::OvParseErrors))));
            spans.push(Span::styled(
                l.unparsed.to_string(),
                if l.unparsed > 0 {
                    th.warn()
                } else {
                    Style::new()
                },
            ));
            spans.push(Span::raw(format!("  {} ", app.t(T::OvDrops))));
            spans.push(Span::styled(
                drops.to_string(),
                if drops > 0 { th.error() } else { Style::new() },
            ));
            if l.url.starts_with("tcp") || l.url.starts_with("tls") {
                spans.push(Span::raw(format!(
                    "  {} {}",
                    app.t(T::OvConnections),
                    l.connections_open
                )));
            }
        } else if let Some(n) = st.netflow.iter().find(|n| n.url == s.name) {
            let drops = n.dropped_queue + n.dropped_queue_datagrams + n.dropped_kernel;
            spans.push(Span::raw(format!("  {} ", app.t(T::OvDecodeErrors))));
            spans.push(Span::styled(
                n.totals.decode_errors.to_string(),
                if n.totals.decode_errors > 0 {
                    th.warn()
                } else {
                    Style::new()
                },
            ));
            spans.push(Span::raw(format!("  {} ", app.t(T::OvDrops))));
            spans.push(Span::styled(
                drops.to_string(),
                if drops > 0 { th.error() } else { Style::new() },
            ));
            spans.push(Span::raw(format!(
                "  {} {}",
                app.t(T::OvGaps),
                n.totals.sequence_gaps
            )));
        }
        let line = Rect {
            y,
            height: 1,
            ..inner
        };
        f.render_widget(Paragraph::new(Line::from(spans)), line);
        let w = inner.width as usize;
        let skip = s.points.len().saturating_sub(w);
        let data: Vec<u64> = s.points.iter().skip(skip).copied().collect();
        // newest point at the right edge
        let spark = Rect {
            x: inner.x + inner.width - data.len() as u16,
            y: y + 1,
            width: data.len() as u16,
            height: 1,
        };
        f.render_widget(Sparkline::default().data(&data).style(th.ok()), spark);
        y += 2;
    }
}

/// A collector whose oldest unshipped event is older than this is shown as lagging.
const COLLECTOR_LAG_WARN_SECS: u64 = 60;

/// Disconnected or lagging: shown on a line of its own, at the top of the health panel.
fn collector_trouble(c: &crate::model::Collector) -> bool {
    !c.connected || c.oldest_unshipped_secs >= COLLECTOR_LAG_WARN_SECS
}

fn render_health(app: &App, th: Theme, st: &EngineStatus, f: &mut Frame<'_>, area: Rect) {
    let b = block(th, app.t(T::OvHealth));
    let inner = b.inner(area);
    f.render_widget(b, area);
    let mut lines: Vec<Line<'_>> = Vec::new();
    let num = |v: u64, bad: bool| {
        Span::styled(
            v.to_string(),
            if bad && v > 0 {
                th.error()
            } else {
                Style::new()
            },
        )
    };
    let up = parse_time(&st.started_at)
        .map(|t| span_text(app.lang, (app.now - t.with_timezone(&Utc)).num_seconds()))
        .unwrap_or_else(|| "?".into());
    lines.push(Line::from(vec![
        Span::styled(format!("{}: ", app.t(T::OvEngine)), th.label()),
        Span::raw(T::OvVersion.fmt(app.lang, &[&st.version, &st.pid, &up])),
    ]));
    if let Some(t) = parse_time(&st.updated_at) {
        let age = (app.now - t.with_timezone(&Utc)).num_seconds();
        let style = if age > STALE_SECS {
            th.error()
        } else {
            th.ok()
        };
        lines.push(Line::from(Span::styled(
            T::OvUpdated.fmt(app.lang, &[&span_text(app.lang, age)]),
            style,
        )));
    }
    // collectors in trouble first: in a small panel they must not scroll out of sight
    if let Some(sh) = &st.ship {
        for c in sh.collectors.iter().filter(|c| collector_trouble(c)) {
            let heard = (app.now.timestamp_millis() - c.last_seen_ms).max(0) / 1000;
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{}: ", T::OvCollector.fmt(app.lang, &[&c.name])),
                    th.label(),
                ),
                if c.connected {
                    Span::styled(app.t(T::OvConnected), th.warn())
                } else {
                    Span::styled(app.t(T::OvDisconnected), th.error())
                },
                Span::styled(
                    format!(
                        " · {}",
                        T::OvCollectorLine.fmt(
                            app.lang,
                            &[
                                &span_text(app.lang, heard),
                                &c.spool_depth,
                                &span_text(app.lang, c.oldest_unshipped_secs as i64),
                            ],
                        )
                    ),
                    th.warn(),
                ),
            ]));
        }
    }
    let p = &st.pipeline;
    lines.push(Line::from(vec![
        Span::styled(format!("{}: ", app.t(T::OvQueue)), th.label()),
        Span::raw(format!("{}/{}", p.queue_depth, p.queue_capacity)),
        Span::raw(format!("  {} ", app.t(T::OvIndexErrors))),
        num(p.index_errors, true),
    ]));
    lines.push(Line::from(vec![
        Span::styled(format!("{}: ", app.t(T::OvWal)), th.label()),
        Span::raw(p.wal_events_durable.to_string()),
        Span::raw(format!("  {} ", app.t(T::OvIndexed))),
        Span::raw(p.indexed_events.to_string()),
    ]));
    if let Some(d) = &st.detection {
        lines.push(Line::from(vec![
            Span::styled(format!("{}: ", app.t(T::OvRules)), th.label()),
            Span::raw(T::OvRulesLine.fmt(app.lang, &[&d.compiled, &d.unsupported, &d.invalid])),
        ]));
        if let Some(e) = &d.last_reload_error {
            lines.push(Line::from(Span::styled(
                format!("{}: {e}", app.t(T::OvReloadError)),
                th.error(),
            )));
        }
    }
    if let Some(a) = &st.alerts {
        let s = &a.stage;
        lines.push(Line::from(vec![
            Span::styled(format!("{}: ", app.t(T::OvStage)), th.label()),
            Span::raw(format!("{}/{}", s.queue_depth, s.queue_capacity)),
            Span::raw(format!("  {} ", app.t(T::OvStoreErrors))),
            num(s.store_errors, true),
        ]));
        lines.push(Line::from(vec![
            Span::styled(format!("{}: ", app.t(T::OvSuppressed)), th.label()),
            Span::raw(s.suppressed.to_string()),
        ]));
        lines.push(Line::from(vec![
            Span::styled(format!("{}: ", app.t(T::OvSilent)), th.label()),
            Span::styled(
                s.silent_sources.to_string(),
                if s.silent_sources > 0 {
                    th.warn()
                } else {
                    th.ok()
                },
            ),
        ]));
    }
    if let Some(sh) = &st.ship {
        let healthy = sh
            .collectors
            .iter()
            .filter(|c| !collector_trouble(c))
            .count();
        lines.push(Line::from(vec![
            Span::styled(format!("{}: ", app.t(T::OvCollectorsOk)), th.label()),
            Span::styled(healthy.to_string(), th.ok()),
            Span::raw(format!("  {} ", app.t(T::OvShipRefused))),
            num(sh.refused, true),
        ]));
    }
    let mut inactive = vec![Span::styled(
        format!("{}: ", app.t(T::OvInactive)),
        th.label(),
    )];
    if st.inactive.is_empty() {
        inactive.push(Span::styled(app.t(T::OvNone), th.ok()));
    } else {
        let text = st
            .inactive
            .iter()
            .map(|(u, why)| format!("{u} ({why})"))
            .collect::<Vec<_>>()
            .join(", ");
        inactive.push(Span::styled(text, th.error()));
    }
    lines.push(Line::from(inactive));
    let lines: Vec<Line<'_>> = lines
        .into_iter()
        .flat_map(|l| wrap(l.spans, inner.width as usize, 2))
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn render_top_sources(app: &App, th: Theme, st: &EngineStatus, f: &mut Frame<'_>, area: Rect) {
    let b = block(th, app.t(T::OvTopSources));
    let inner = b.inner(area);
    f.render_widget(b, area);
    let mut all: Vec<(String, u64)> = Vec::new();
    for l in &st.listeners {
        for (addr, s) in &l.sources {
            let name = match &s.hostname {
                Some(h) if h != addr => format!("{h} ({addr})"),
                _ => addr.clone(),
            };
            match all.iter_mut().find(|(n, _)| *n == name) {
                Some(x) => x.1 += s.received,
                None => all.push((name, s.received)),
            }
        }
    }
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top_table(th, app, all.into_iter().take(TOP_ROWS).collect(), f, inner);
}

fn render_top_rules(app: &App, th: Theme, st: &EngineStatus, f: &mut Frame<'_>, area: Rect) {
    let b = block(th, app.t(T::OvTopRules));
    let inner = b.inner(area);
    f.render_widget(b, area);
    let rows: Vec<(String, u64)> = st
        .detection
        .as_ref()
        .map(|d| {
            d.top_rules
                .iter()
                .take(TOP_ROWS)
                .map(|r| {
                    let name = if r.title.is_empty() { &r.id } else { &r.title };
                    (name.clone(), r.hits)
                })
                .collect()
        })
        .unwrap_or_default();
    top_table(th, app, rows, f, inner);
}

fn top_table(th: Theme, app: &App, rows: Vec<(String, u64)>, f: &mut Frame<'_>, area: Rect) {
    if rows.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled(app.t(T::OvNone), th.dim())),
            area,
        );
        return;
    }
    let nw = rows
        .iter()
        .map(|(_, n)| n.to_string().len())
        .max()
        .unwrap_or(1) as u16;
    let rows: Vec<Row<'_>> = rows
        .into_iter()
        .map(|(name, n)| {
            Row::new(vec![
                Cell::from(format!("{n:>w$}", w = nw as usize)),
                Cell::from(name),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(rows, [Constraint::Length(nw), Constraint::Fill(1)]).column_spacing(1),
        area,
    );
}

// ---------------------------------------------------------------- rules

fn render_rules(app: &App, th: Theme, f: &mut Frame<'_>, area: Rect) {
    let r = &app.rules;
    let [info, table, pane] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(4),
    ])
    .areas(area);
    let count = |s: &str| r.rules.iter().filter(|x| x.state == s).count();
    let mut spans = vec![Span::styled(
        format!(
            " {}",
            T::RulesSummary.fmt(
                app.lang,
                &[
                    &r.rules.len(),
                    &count("compiled"),
                    &count("unsupported"),
                    &count("invalid")
                ]
            )
        ),
        th.bold(),
    )];
    if r.reloading {
        spans.push(Span::styled(
            format!(" · {}", app.t(T::RulesReloading)),
            th.dim(),
        ));
    } else if r.loading {
        spans.push(Span::styled(
            format!(" · {}", app.t(T::RulesLoading)),
            th.dim(),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), info);

    let wide = area.width >= WIDE;
    let mut widths = vec![Constraint::Length(1), Constraint::Length(11)];
    let mut head = vec![String::new(), app.t(T::RulesState).to_owned()];
    if wide {
        widths.push(Constraint::Length(36));
        head.push(app.t(T::RulesKey).to_owned());
    }
    widths.push(Constraint::Fill(1));
    head.push(app.t(T::RulesTitle).to_owned());
    if wide {
        widths.push(Constraint::Length(12));
        head.push(app.t(T::RulesLevel).to_owned());
    }
    widths.push(Constraint::Length(9));
    head.push(format!("{:>9}", app.t(T::RulesHits)));
    widths.push(Constraint::Length(13));
    head.push(app.t(T::RulesLastAlert).to_owned());

    let height = (table.height as usize).saturating_sub(1);
    let offset = scroll_window(r.cursor, r.offset, height, r.rules.len());
    let rows: Vec<Row<'_>> = r
        .rules
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, e)| {
            let (state, style) = match e.state.as_str() {
                "compiled" => (app.t(T::RuleOn), th.ok()),
                "unsupported" => (app.t(T::RuleUnsupported), th.warn()),
                _ => (app.t(T::RuleInvalid), th.error()),
            };
            let mut cells = vec![
                Cell::from(cursor_mark(i == r.cursor)),
                Cell::from(Span::styled(state, style)),
            ];
            if wide {
                cells.push(Cell::from(e.key.as_str()));
            }
            let title = if e.title.is_empty() { &e.key } else { &e.title };
            cells.push(Cell::from(title.as_str()));
            if wide {
                let lv = e.level.as_deref().unwrap_or("");
                let text = if lv.is_empty() {
                    ""
                } else {
                    level_label(app, lv, false)
                };
                cells.push(Cell::from(Span::styled(text, th.level(lv))));
            }
            cells.push(Cell::from(format!("{:>9}", e.hits)));
            let last = r
                .last_alert
                .get(&e.key)
                .map(|t| short_time(app, t))
                .unwrap_or_else(|| app.t(T::Never).to_owned());
            cells.push(Cell::from(Span::styled(last, th.dim())));
            let row = Row::new(cells);
            if i == r.cursor {
                row.style(th.cursor())
            } else {
                row
            }
        })
        .collect();
    f.render_widget(
        Table::new(rows, widths)
            .header(Row::new(head).style(th.dim()))
            .column_spacing(1),
        table,
    );

    let b = Block::new()
        .borders(Borders::TOP)
        .border_style(th.dim())
        .padding(Padding::horizontal(1));
    let inner = b.inner(pane);
    f.render_widget(b, pane);
    if let Some(e) = r.rules.get(r.cursor) {
        let mut lines = vec![Line::from(vec![
            Span::styled(format!("{}: ", app.t(T::RulesKey)), th.label()),
            Span::raw(e.key.as_str()),
            Span::styled(format!("  {}: ", app.t(T::RulesFile)), th.label()),
            Span::raw(e.file.as_str()),
        ])];
        if let Some(reason) = &e.reason {
            lines.extend(wrap(
                vec![
                    Span::styled(format!("{}: ", app.t(T::RulesReason)), th.label()),
                    Span::styled(reason.as_str(), th.warn()),
                ],
                inner.width as usize,
                2,
            ));
        }
        f.render_widget(Paragraph::new(lines), inner);
    }
}

// ---------------------------------------------------------------- modals

fn render_modal(app: &App, th: Theme, m: &Modal, f: &mut Frame<'_>, area: Rect) {
    match m {
        Modal::Help => render_help(app, th, f, area),
        Modal::Close { ids, choice } => render_close(app, th, ids.len(), *choice, f, area),
        Modal::Suppress(form) => render_suppress(app, th, form, f, area),
        Modal::Prompt { kind, ids, input } => {
            render_prompt(app, th, *kind, ids.len(), input, f, area)
        }
        Modal::Filter(form) => render_filter(app, th, form, f, area),
    }
}

/// The help overlay's sections: a title and (keys, what they do) rows.
fn help_sections() -> [(T, Vec<(&'static str, T)>); 4] {
    [
        (
            T::HelpEverywhere,
            vec![
                ("1-4 Tab", T::HelpScreens),
                ("?", T::HelpHelp),
                ("q Ctrl-C", T::HelpQuit),
                ("j k ↑ ↓", T::HelpMove),
                ("g G", T::HelpEnds),
                ("PgUp/Dn", T::HelpPage),
                ("Enter", T::HelpOpen),
                ("Esc", T::HelpBack),
            ],
        ),
        (
            T::HelpQueue,
            vec![
                ("a", T::HelpAck),
                ("c", T::HelpClose),
                ("s", T::HelpSuppress),
                ("n", T::HelpNote),
                ("A", T::HelpAssign),
                ("Space", T::HelpSelect),
                ("/", T::HelpFilterText),
                ("f", T::HelpFilters),
                ("r", T::HelpRefresh),
                ("e", T::HelpEvents),
            ],
        ),
        (
            T::HelpSearch,
            vec![
                ("/", T::HelpQuery),
                ("t", T::HelpRange),
                ("Enter", T::HelpPivot),
            ],
        ),
        (T::HelpRules, vec![("r", T::HelpReload)]),
    ]
}

fn help_lines(
    app: &App,
    th: Theme,
    sections: &[(T, Vec<(&'static str, T)>)],
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (i, (title, keys)) in sections.iter().enumerate() {
        if i > 0 {
            lines.push(Line::raw(""));
        }
        lines.push(Line::from(Span::styled(app.t(*title), th.bold())));
        for (k, t) in keys {
            lines.push(Line::from(vec![
                Span::styled(pad(k, 9), th.key()),
                Span::raw(app.t(*t)),
            ]));
        }
    }
    lines
}

fn render_help(app: &App, th: Theme, f: &mut Frame<'_>, area: Rect) {
    let [every, queue, search, rules] = help_sections();
    let two = area.width >= 70;
    let (left, right) = if two {
        (
            help_lines(app, th, &[every, search, rules]),
            help_lines(app, th, &[queue]),
        )
    } else {
        (
            help_lines(app, th, &[every, queue, search, rules]),
            Vec::new(),
        )
    };
    let h = left.len().max(right.len()) as u16 + 2;
    let w = if two { 80 } else { 44 };
    let r = centered(area, w, h);
    f.render_widget(Clear, r);
    let b = block(th, app.t(T::HelpTitle)).border_style(th.key());
    let inner = b.inner(r);
    f.render_widget(b, r);
    if two {
        let [a, c] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(inner);
        f.render_widget(Paragraph::new(left), a);
        f.render_widget(Paragraph::new(right), c);
    } else {
        f.render_widget(Paragraph::new(left), inner);
    }
}

fn render_close(app: &App, th: Theme, n: usize, choice: usize, f: &mut Frame<'_>, area: Rect) {
    let r = centered(area, 60, CLOSE_REASONS.len() as u16 + 4);
    f.render_widget(Clear, r);
    let b = block(th, T::CloseTitle.fmt(app.lang, &[&n])).border_style(th.key());
    let inner = b.inner(r);
    f.render_widget(b, r);
    let mut lines: Vec<Line<'_>> = CLOSE_REASONS
        .iter()
        .enumerate()
        .map(|(i, (_, t))| {
            let text = pad(
                &format!("{}{}  {}", cursor_mark(i == choice), i + 1, app.t(*t)),
                inner.width as usize,
            );
            if i == choice {
                Line::from(Span::styled(text, th.cursor()))
            } else {
                Line::raw(text)
            }
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        fit(&format!(" {}", app.t(T::CloseHint)), inner.width as usize),
        th.dim(),
    )));
    f.render_widget(Paragraph::new(lines), inner);
}

fn render_suppress(app: &App, th: Theme, form: &SuppressForm, f: &mut Frame<'_>, area: Rect) {
    let r = centered(area, 72, SUPPRESS_FIELDS.len() as u16 + 4);
    f.render_widget(Clear, r);
    let b = block(th, T::SuppressTitle.fmt(app.lang, &[&form.alert_id])).border_style(th.key());
    let inner = b.inner(r);
    f.render_widget(b, r);
    let lw = SUPPRESS_FIELDS
        .iter()
        .map(|(_, t)| app.t(*t).width())
        .max()
        .unwrap_or(0);
    let vw = (inner.width as usize).saturating_sub(lw + 4);
    let mut lines: Vec<Line<'_>> = Vec::new();
    for (i, ((_, t), v)) in SUPPRESS_FIELDS.iter().zip(&form.values).enumerate() {
        let focused = i == form.focus;
        let value = tail_fit(v, vw.saturating_sub(1));
        let value = if focused {
            format!("{value}▏")
        } else {
            value
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {} ", pad(app.t(*t), lw)),
                if focused { th.key() } else { th.label() },
            ),
            Span::styled(
                pad(&value, vw),
                if focused { th.cursor() } else { Style::new() },
            ),
        ]));
    }
    lines.push(match form.error {
        Some(e) => Line::from(Span::styled(format!(" {}", app.t(e)), th.error())),
        None => Line::raw(""),
    });
    lines.push(Line::from(Span::styled(
        fit(
            &format!(" {}", app.t(T::SuppressHint)),
            inner.width as usize,
        ),
        th.dim(),
    )));
    f.render_widget(Paragraph::new(lines), inner);
}

/// The end of `s` that fits in `width` columns (what is being typed stays in view).
fn tail_fit(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_owned();
    }
    let mut out: Vec<char> = Vec::new();
    let mut w = 1;
    for c in s.chars().rev() {
        let cw = c.width().unwrap_or(0);
        if w + cw > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out.into_iter().rev().collect()
}

fn render_prompt(
    app: &App,
    th: Theme,
    kind: PromptKind,
    n: usize,
    input: &str,
    f: &mut Frame<'_>,
    area: Rect,
) {
    let r = centered(area, 72, 5);
    f.render_widget(Clear, r);
    let title = match kind {
        PromptKind::Note => T::NoteTitle,
        PromptKind::Assign => T::AssignTitle,
    };
    let b = block(th, title.fmt(app.lang, &[&n])).border_style(th.key());
    let inner = b.inner(r);
    f.render_widget(b, r);
    let w = (inner.width as usize).saturating_sub(2);
    let lines = vec![
        Line::from(Span::styled(
            pad(
                &format!(" {}▏", tail_fit(input, w.saturating_sub(2))),
                w + 1,
            ),
            th.cursor(),
        )),
        Line::raw(""),
        Line::from(Span::styled(
            fit(&format!(" {}", app.t(T::PromptHint)), inner.width as usize),
            th.dim(),
        )),
    ];
    f.render_widget(Paragraph::new(lines), inner);
}

fn render_filter(app: &App, th: Theme, form: &FilterForm, f: &mut Frame<'_>, area: Rect) {
    let r = centered(area, 64, 9);
    f.render_widget(Clear, r);
    let b = block(th, app.t(T::FilterTitle)).border_style(th.key());
    let inner = b.inner(r);
    f.render_widget(b, r);
    let fl = &form.filter;
    let level = match fl.min_level {
        Some(m) => level_label(app, crate::model::LEVELS[m as usize], false).to_owned(),
        None => app.t(T::LvAny).to_owned(),
    };
    let fields: [(T, String, bool); 5] = [
        (T::FieldStatus, app.t(fl.status.label()).to_owned(), true),
        (T::FieldLevelMin, level, true),
        (T::FieldRule, fl.rule.clone(), false),
        (T::FieldHost, fl.host.clone(), false),
        (T::FieldText, fl.text.clone(), false),
    ];
    let lw = fields
        .iter()
        .map(|(t, _, _)| app.t(*t).width())
        .max()
        .unwrap_or(0);
    let vw = (inner.width as usize).saturating_sub(lw + 4);
    let mut lines: Vec<Line<'_>> = Vec::new();
    for (i, (t, v, choice)) in fields.into_iter().enumerate() {
        let focused = i == form.focus;
        let value = if choice {
            format!("◂ {v} ▸")
        } else if focused {
            format!("{}▏", tail_fit(&v, vw.saturating_sub(1)))
        } else {
            v
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {} ", pad(app.t(t), lw)),
                if focused { th.key() } else { th.label() },
            ),
            Span::styled(
                pad(&value, vw),
                if focused { th.cursor() } else { Style::new() },
            ),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        fit(&format!(" {}", app.t(T::FilterHint)), inner.width as usize),
        th.dim(),
    )));
    f.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_and_pad_count_columns_not_bytes() {
        assert_eq!(fit("Đăng nhập thất bại", 9), "Đăng nhậ…");
        assert_eq!(pad("mới", 5), "mới  ");
        assert_eq!(pad("abcdef", 4), "abc…");
        assert_eq!(tail_fit("abcdef", 4), "…def");
    }

    #[test]
    fn matched_values_are_highlighted_inside_raw_text() {
        let hl = Style::new().add_modifier(Modifier::BOLD);
        let spans = highlighted(
            "Failed password for ROOT from 203.0.113.5",
            &["root", "203.0.113.5", ""],
            Style::new(),
            hl,
        );
        let marked: Vec<&str> = spans
            .iter()
            .filter(|s| s.style == hl)
            .map(|s| s.content.as_ref())
            .collect();
        assert_eq!(marked, ["ROOT", "203.0.113.5"]);
        let all: String = spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(all, "Failed password for ROOT from 203.0.113.5");
        // Vietnamese text keeps its byte boundaries
        let spans = highlighted("Đăng nhập admin", &["admin"], Style::new(), hl);
        assert_eq!(spans[1].content, "admin");
    }

    #[test]
    fn wrap_breaks_on_columns() {
        let text = |spans, w, i| -> Vec<String> {
            wrap(spans, w, i).iter().map(|l| l.to_string()).collect()
        };
        assert_eq!(
            text(vec![Span::raw("abcdefghijklmnop")], 10, 2),
            ["abcdefghij", "  klmnop"]
        );
        assert_eq!(
            text(vec![Span::raw("port 40022 ssh2: ED25519")], 12, 2),
            ["port 40022", "  ssh2:", "  ED25519"]
        );
        assert_eq!(text(vec![Span::raw("")], 12, 2), [""]);
        assert_eq!(
            text(vec![Span::raw("đăng "), Span::raw("nhập thất bại")], 11, 0),
            ["đăng nhập", "thất bại"]
        );
    }
}
