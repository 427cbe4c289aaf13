//! `update(&mut App, Msg) -> Vec<Cmd>`: every key, tick and network result goes through here,
//! and what the console asks of the network comes out as [`Cmd`]s for the client's workers.

use chrono::{DateTime, SecondsFormat, Utc};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::i18n::T;
use crate::model::{Alert, AlertDetail, AlertList, EngineStatus, Hit, LEVELS, RuleEntry};
use crate::state::{
    App, CLOSE_REASONS, Conn, DetailView, EventView, FLASH_SECS, FilterForm, MAX_INPUT_BYTES,
    Modal, PromptKind, REFRESH_LOOKBACK_SECS, REFRESH_SECS, SEARCH_LIMIT, SUPPRESS_FIELDS,
    StatusFilter, SuppressForm, Tab, scroll_window,
};

/// Everything that happens to the console.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    /// The clock moved (about once a second).
    Tick(DateTime<Utc>),
    /// The engine answers (again).
    Connected,
    /// The engine does not answer; the client tries again in `retry_in_s`.
    Disconnected {
        reason: String,
        retry_in_s: u64,
        attempt: u32,
    },
    /// The live alert stream is (again) connected.
    StreamUp,
    /// The live alert stream broke; the client reconnects.
    StreamDown,
    /// A status snapshot polled at the given time.
    Status(Box<EngineStatus>, DateTime<Utc>),
    /// One page of a listing started by [`Cmd::LoadAlerts`].
    AlertsPage {
        generation: u64,
        first: bool,
        done: bool,
        /// The engine has more alerts than the queue keeps.
        truncated: bool,
        list: AlertList,
    },
    AlertsFailed {
        generation: u64,
        error: String,
    },
    /// Alerts whose last event is recent, re-read by [`Cmd::RefreshAlerts`].
    AlertsTouched(Vec<Alert>),
    /// A new alert from the live stream.
    AlertLive(Box<Alert>),
    /// The live stream skipped alerts: the list is re-read.
    Lagged,
    Detail(Box<AlertDetail>),
    DetailFailed {
        id: i64,
        error: String,
    },
    /// An alert after a triage action.
    Updated(Box<AlertDetail>),
    /// A triage command finished.
    Done {
        action: Triage,
        ok: usize,
        failed: Vec<String>,
    },
    Suppressed(Result<i64, String>),
    SearchDone {
        generation: u64,
        result: Result<Vec<Hit>, String>,
    },
    Rules(Result<Vec<RuleEntry>, String>),
    Reloaded(Result<String, String>),
}

/// A triage action on alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Triage {
    Ack,
    /// With the engine's reason name.
    Close(String),
    Note(String),
    Assign(String),
}

impl Triage {
    pub fn label(&self) -> T {
        match self {
            Triage::Ack => T::ActAck,
            Triage::Close(_) => T::ActClose,
            Triage::Note(_) => T::ActNote,
            Triage::Assign(_) => T::ActAssign,
        }
    }
}

/// What the console asks the client to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    /// Lists alerts of `status` page by page, answering [`Msg::AlertsPage`]s tagged `generation`.
    LoadAlerts {
        generation: u64,
        status: &'static str,
    },
    /// Re-reads alerts (any status) whose last event is at or after `since`.
    RefreshAlerts {
        since: String,
    },
    LoadDetail(i64),
    Triage {
        ids: Vec<i64>,
        action: Triage,
    },
    /// `POST /api/v1/suppressions` with this body.
    Suppress(serde_json::Value),
    Search {
        generation: u64,
        query: String,
        from: Option<String>,
        to: Option<String>,
        limit: usize,
    },
    LoadRules,
    ReloadRules,
    Quit,
}

/// Applies `msg` to the state and says what to ask of the network.
pub fn update(app: &mut App, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::Key(k) => {
            if k.kind == KeyEventKind::Release {
                return Vec::new();
            }
            on_key(app, k)
        }
        Msg::Resize(w, h) => {
            app.size = (w, h);
            clamp_windows(app);
            Vec::new()
        }
        Msg::Tick(now) => on_tick(app, now),
        Msg::Connected => {
            let was_down = matches!(app.conn, Conn::Down { .. });
            app.conn = Conn::Up;
            if was_down {
                app.set_flash(app.t(T::Reconnected).to_owned(), false);
            }
            let mut cmds = vec![load_alerts(app), Cmd::LoadRules];
            app.rules.loading = true;
            if was_down && app.detail.is_some() {
                cmds.extend(app.detail.as_ref().map(|d| Cmd::LoadDetail(d.id)));
            }
            cmds
        }
        Msg::Disconnected {
            reason,
            retry_in_s,
            attempt,
        } => {
            app.conn = Conn::Down {
                reason,
                retry_in_s,
                attempt,
            };
            app.queue.loading = false;
            app.search.running = false;
            app.rules.loading = false;
            app.rules.reloading = false;
            Vec::new()
        }
        Msg::StreamUp => {
            let was_down = std::mem::replace(&mut app.stream_down, false);
            if was_down && app.conn == Conn::Up {
                // alerts may have come while the stream was down
                vec![load_alerts(app)]
            } else {
                Vec::new()
            }
        }
        Msg::StreamDown => {
            app.stream_down = true;
            Vec::new()
        }
        Msg::Status(s, at) => {
            if let Some(a) = &s.alerts {
                app.queue.counts = a.counts;
            }
            app.overview.push(*s, at);
            Vec::new()
        }
        Msg::AlertsPage {
            generation,
            first,
            done,
            truncated,
            list,
        } => {
            if generation != app.queue.generation {
                return Vec::new();
            }
            app.queue.counts = list.counts;
            if first {
                app.queue.replace(list.alerts);
            } else {
                app.queue.extend(list.alerts);
            }
            app.queue.truncated |= truncated;
            if done {
                app.queue.loading = false;
            }
            let h = app.queue_rows();
            app.queue.move_cursor(0, h);
            Vec::new()
        }
        Msg::AlertsFailed { generation, error } => {
            if generation == app.queue.generation {
                app.queue.loading = false;
                flash_error(app, &error);
            }
            Vec::new()
        }
        Msg::AlertsTouched(alerts) => {
            app.queue.upsert_many(alerts);
            Vec::new()
        }
        Msg::AlertLive(a) => {
            if !app.queue.contains(a.id) && app.queue.filter.status.admits(&a.status) {
                app.queue.fresh.insert(a.id);
            }
            app.queue.upsert(*a);
            Vec::new()
        }
        Msg::Lagged => {
            if app.queue.loading {
                Vec::new()
            } else {
                vec![load_alerts(app)]
            }
        }
        Msg::Detail(d) => {
            if let Some(v) = app.detail.as_mut().filter(|v| v.id == d.alert.id) {
                v.alert = d.alert.clone();
                v.data = Some(*d);
                v.error = None;
            }
            Vec::new()
        }
        Msg::DetailFailed { id, error } => {
            if let Some(v) = app.detail.as_mut().filter(|v| v.id == id) {
                v.error = Some(error);
            }
            Vec::new()
        }
        Msg::Updated(d) => {
            app.queue.upsert(d.alert.clone());
            if let Some(v) = app.detail.as_mut().filter(|v| v.id == d.alert.id) {
                v.alert = d.alert.clone();
                v.data = Some(*d);
            }
            Vec::new()
        }
        Msg::Done { action, ok, failed } => {
            let label = app.t(action.label());
            if failed.is_empty() {
                let text = T::DoneOk.fmt(app.lang, &[&label, &ok]);
                app.set_flash(text, false);
            } else {
                let text = T::DoneFailed.fmt(app.lang, &[&label, &ok, &failed.len(), &failed[0]]);
                app.set_flash(text, true);
            }
            Vec::new()
        }
        Msg::Suppressed(r) => {
            match r {
                Ok(id) => {
                    let text = T::Suppressed.fmt(app.lang, &[&id]);
                    app.set_flash(text, false);
                }
                Err(e) => flash_error(app, &e),
            }
            Vec::new()
        }
        Msg::SearchDone { generation, result } => {
            if generation == app.search.generation {
                app.search.running = false;
                match result {
                    Ok(hits) => {
                        app.search.hits = hits;
                        app.search.error = None;
                    }
                    Err(e) => {
                        app.search.hits.clear();
                        app.search.error = Some(e);
                    }
                }
                app.search.cursor = 0;
                app.search.offset = 0;
                app.search.event = None;
            }
            Vec::new()
        }
        Msg::Rules(r) => {
            app.rules.loading = false;
            match r {
                Ok(rules) => {
                    app.rules.rules = rules;
                    app.rules.last_alert = app.queue.last_by_rule();
                    let len = app.rules.rules.len();
                    app.rules.cursor = app.rules.cursor.min(len.saturating_sub(1));
                    let h = app.rules_rows();
                    app.rules.offset = scroll_window(app.rules.cursor, app.rules.offset, h, len);
                }
                Err(e) => flash_error(app, &e),
            }
            Vec::new()
        }
        Msg::Reloaded(r) => {
            app.rules.reloading = false;
            match r {
                Ok(m) => {
                    let text = T::RulesReloaded.fmt(app.lang, &[&m.trim()]);
                    app.set_flash(text, false);
                    app.rules.loading = true;
                    vec![Cmd::LoadRules]
                }
                Err(e) => {
                    let text = T::RulesRefused.fmt(app.lang, &[&e.trim()]);
                    app.set_flash(text, true);
                    Vec::new()
                }
            }
        }
    }
}

fn flash_error(app: &mut App, e: &str) {
    let text = T::ErrorPrefix.fmt(app.lang, &[&e]);
    app.set_flash(text, true);
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A new listing of the queue's status; pages of earlier ones are ignored from now on.
fn load_alerts(app: &mut App) -> Cmd {
    app.queue.generation += 1;
    app.queue.loading = true;
    app.last_refresh = app.now;
    Cmd::LoadAlerts {
        generation: app.queue.generation,
        status: app.queue.filter.status.as_api(),
    }
}

fn on_tick(app: &mut App, now: DateTime<Utc>) -> Vec<Cmd> {
    app.now = now;
    if app
        .flash
        .as_ref()
        .is_some_and(|f| (now - f.at).num_seconds() >= FLASH_SECS)
    {
        app.flash = None;
    }
    if app.conn == Conn::Up
        && !app.queue.loading
        && (now - app.last_refresh).num_seconds() >= REFRESH_SECS
    {
        app.last_refresh = now;
        let since = now - chrono::Duration::seconds(REFRESH_LOOKBACK_SECS);
        return vec![Cmd::RefreshAlerts {
            since: rfc3339(since),
        }];
    }
    Vec::new()
}

/// Keeps every cursor inside its window after a resize.
fn clamp_windows(app: &mut App) {
    let h = app.queue_rows();
    app.queue.move_cursor(0, h);
    let (c, o, len) = (app.search.cursor, app.search.offset, app.search.hits.len());
    app.search.offset = scroll_window(c, o, app.search_rows(), len);
    let (c, o, len) = (app.rules.cursor, app.rules.offset, app.rules.rules.len());
    app.rules.offset = scroll_window(c, o, app.rules_rows(), len);
}

fn ctrl(k: &KeyEvent, c: char) -> bool {
    k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char(c)
}

/// Cursor movement keys shared by every list: the row delta for a list of `page` rows.
fn movement(k: &KeyEvent, page: usize) -> Option<isize> {
    let page = page.max(1) as isize;
    if ctrl(k, 'd') || ctrl(k, 'f') {
        return Some(page);
    }
    if ctrl(k, 'u') || ctrl(k, 'b') {
        return Some(-page);
    }
    if k.modifiers.contains(KeyModifiers::CONTROL) {
        return None;
    }
    Some(match k.code {
        KeyCode::Down | KeyCode::Char('j') => 1,
        KeyCode::Up | KeyCode::Char('k') => -1,
        KeyCode::PageDown => page,
        KeyCode::PageUp => -page,
        KeyCode::Home | KeyCode::Char('g') => isize::MIN / 2,
        KeyCode::End | KeyCode::Char('G') => isize::MAX / 2,
        _ => return None,
    })
}

fn move_in(cursor: &mut usize, offset: &mut usize, delta: isize, height: usize, len: usize) {
    if len == 0 {
        *cursor = 0;
        *offset = 0;
        return;
    }
    *cursor = cursor.saturating_add_signed(delta).min(len - 1);
    *offset = scroll_window(*cursor, *offset, height, len);
}

fn on_key(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    if ctrl(&k, 'c') {
        app.quit = true;
        return vec![Cmd::Quit];
    }
    if app.modal.is_some() {
        return on_modal_key(app, k);
    }
    if app.tab == Tab::Search && app.search.editing {
        return on_query_key(app, k);
    }
    match k.code {
        KeyCode::Char('q') if k.modifiers.is_empty() || k.modifiers == KeyModifiers::SHIFT => {
            app.quit = true;
            return vec![Cmd::Quit];
        }
        KeyCode::Char('?') => {
            app.modal = Some(Modal::Help);
            return Vec::new();
        }
        KeyCode::Char(c @ '1'..='4') => {
            return switch_tab(app, Tab::ALL[c as usize - '1' as usize]);
        }
        KeyCode::Tab => return switch_tab(app, Tab::ALL[(app.tab.index() + 1) % 4]),
        KeyCode::BackTab => return switch_tab(app, Tab::ALL[(app.tab.index() + 3) % 4]),
        _ => {}
    }
    match app.tab {
        Tab::Alerts if app.detail.is_some() => on_detail_key(app, k),
        Tab::Alerts => on_queue_key(app, k),
        Tab::Search => on_search_key(app, k),
        Tab::Overview => Vec::new(),
        Tab::Rules => on_rules_key(app, k),
    }
}

fn switch_tab(app: &mut App, tab: Tab) -> Vec<Cmd> {
    app.tab = tab;
    if tab == Tab::Rules {
        app.rules.last_alert = app.queue.last_by_rule();
        if app.rules.rules.is_empty() && !app.rules.loading && app.conn == Conn::Up {
            app.rules.loading = true;
            return vec![Cmd::LoadRules];
        }
    }
    Vec::new()
}

fn on_queue_key(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    let h = app.queue_rows();
    if let Some(d) = movement(&k, h) {
        app.queue.move_cursor(d, h);
        return Vec::new();
    }
    match k.code {
        KeyCode::Enter => {
            let Some(a) = app.queue.cursor_alert().cloned() else {
                return Vec::new();
            };
            app.queue.fresh.remove(&a.id);
            let id = a.id;
            app.detail = Some(DetailView {
                id,
                alert: a,
                ..Default::default()
            });
            vec![Cmd::LoadDetail(id)]
        }
        KeyCode::Char(' ') => {
            if let Some(id) = app.queue.cursor_alert().map(|a| a.id)
                && !app.queue.selected.remove(&id)
            {
                app.queue.selected.insert(id);
            }
            app.queue.move_cursor(1, h);
            Vec::new()
        }
        KeyCode::Esc => {
            app.queue.selected.clear();
            Vec::new()
        }
        KeyCode::Char('f') => {
            app.modal = Some(Modal::Filter(FilterForm {
                filter: app.queue.filter.clone(),
                focus: 0,
            }));
            Vec::new()
        }
        KeyCode::Char('/') => {
            app.modal = Some(Modal::Filter(FilterForm {
                filter: app.queue.filter.clone(),
                focus: 4,
            }));
            Vec::new()
        }
        KeyCode::Char('r') => vec![load_alerts(app)],
        _ => {
            let ids = app.queue.targets();
            triage_key(app, k, ids)
        }
    }
}

/// a, c, s, n, A on `ids`.
fn triage_key(app: &mut App, k: KeyEvent, ids: Vec<i64>) -> Vec<Cmd> {
    let KeyCode::Char(c) = k.code else {
        return Vec::new();
    };
    if !matches!(c, 'a' | 'c' | 's' | 'n' | 'A') {
        return Vec::new();
    }
    if ids.is_empty() {
        app.set_flash(app.t(T::NothingSelected).to_owned(), true);
        return Vec::new();
    }
    match c {
        'a' => {
            app.queue.selected.clear();
            app.set_flash(app.t(T::Working).to_owned(), false);
            vec![Cmd::Triage {
                ids,
                action: Triage::Ack,
            }]
        }
        'c' => {
            app.modal = Some(Modal::Close { ids, choice: 0 });
            Vec::new()
        }
        's' => {
            let first = ids[0];
            let alert = app
                .detail
                .as_ref()
                .filter(|d| d.id == first)
                .map(|d| d.alert.clone())
                .or_else(|| app.queue.get(first).cloned())
                .unwrap_or(Alert {
                    id: first,
                    ..Default::default()
                });
            app.modal = Some(Modal::Suppress(SuppressForm::for_alert(&alert)));
            Vec::new()
        }
        'n' => {
            app.modal = Some(Modal::Prompt {
                kind: PromptKind::Note,
                ids,
                input: String::new(),
            });
            Vec::new()
        }
        _ => {
            app.modal = Some(Modal::Prompt {
                kind: PromptKind::Assign,
                ids,
                input: app.actor.clone(),
            });
            Vec::new()
        }
    }
}

fn on_detail_key(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    let page = app.body_rows().saturating_sub(2).max(1) as isize;
    if let Some(d) = movement(&k, page as usize)
        && let Some(v) = app.detail.as_ref()
    {
        // the same lines the screen shows: inside the border and padding (4 columns, 2 rows)
        let width = (app.size.0 as usize).saturating_sub(4);
        let lines = crate::render::detail_lines(app, v, width).len();
        let max = lines.saturating_sub(page as usize) as isize;
        let s = (v.scroll as isize)
            .saturating_add(d)
            .clamp(0, max.min(u16::MAX as isize));
        if let Some(v) = app.detail.as_mut() {
            v.scroll = s as u16;
        }
        return Vec::new();
    }
    match k.code {
        KeyCode::Esc | KeyCode::Backspace | KeyCode::Left | KeyCode::Char('h') => {
            app.detail = None;
            Vec::new()
        }
        KeyCode::Char('r') => app
            .detail
            .as_ref()
            .map(|d| vec![Cmd::LoadDetail(d.id)])
            .unwrap_or_default(),
        KeyCode::Char('e') => {
            let Some(a) = app.detail.as_ref().map(|d| d.alert.clone()) else {
                return Vec::new();
            };
            let (query, from, to) = a.search_query();
            app.tab = Tab::Search;
            app.search.query = query;
            app.search.editing = false;
            app.search.custom = from.zip(to);
            vec![run_search(app)]
        }
        _ => {
            let ids = app.detail.as_ref().map(|d| vec![d.id]).unwrap_or_default();
            triage_key(app, k, ids)
        }
    }
}

fn run_search(app: &mut App) -> Cmd {
    app.search.generation += 1;
    app.search.running = true;
    app.search.error = None;
    app.search.event = None;
    app.search.ran = Some(app.search.query.clone());
    let (from, to) = match &app.search.custom {
        Some((f, t)) => (Some(f.clone()), Some(t.clone())),
        None => (
            app.search
                .range
                .seconds()
                .map(|s| rfc3339(app.now - chrono::Duration::seconds(s))),
            None,
        ),
    };
    Cmd::Search {
        generation: app.search.generation,
        query: app.search.query.trim().to_owned(),
        from,
        to,
        limit: SEARCH_LIMIT,
    }
}

/// Appends a typed character to `s`, within [`MAX_INPUT_BYTES`]; true when `k` was text
/// editing (a character, Backspace, Ctrl-U).
fn edit(s: &mut String, k: &KeyEvent) -> bool {
    if ctrl(k, 'u') {
        s.clear();
        return true;
    }
    match k.code {
        KeyCode::Backspace => {
            s.pop();
            true
        }
        KeyCode::Char(c)
            if !k.modifiers.contains(KeyModifiers::CONTROL)
                && !k.modifiers.contains(KeyModifiers::ALT) =>
        {
            if s.len() + c.len_utf8() <= MAX_INPUT_BYTES {
                s.push(c);
            }
            true
        }
        _ => false,
    }
}

fn on_query_key(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    match k.code {
        KeyCode::Enter => {
            app.search.editing = false;
            if app.search.query.trim().is_empty() {
                return Vec::new();
            }
            vec![run_search(app)]
        }
        KeyCode::Esc | KeyCode::Tab | KeyCode::Down => {
            app.search.editing = false;
            Vec::new()
        }
        _ => {
            edit(&mut app.search.query, &k);
            Vec::new()
        }
    }
}

/// `field:"value"` as the engine quotes it.
pub fn pivot_query(field: &str, value: &str) -> String {
    format!(
        "{field}:\"{}\"",
        value.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

fn on_search_key(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    if let Some(ev) = app.search.event.clone() {
        let len = app.search.hits.get(ev.index).map_or(0, |h| h.fields.len());
        let h = app.event_rows();
        if let Some(d) = movement(&k, h) {
            let mut ev = ev;
            move_in(&mut ev.cursor, &mut ev.offset, d, h, len);
            app.search.event = Some(ev);
            return Vec::new();
        }
        return match k.code {
            KeyCode::Esc | KeyCode::Backspace | KeyCode::Left | KeyCode::Char('h') => {
                app.search.event = None;
                Vec::new()
            }
            KeyCode::Enter => {
                let Some((f, v)) = app
                    .search
                    .hits
                    .get(ev.index)
                    .and_then(|h| h.fields.get(ev.cursor))
                    .cloned()
                else {
                    return Vec::new();
                };
                app.search.query = pivot_query(&f, &v);
                app.search.custom = None;
                vec![run_search(app)]
            }
            _ => Vec::new(),
        };
    }
    let h = app.search_rows();
    let len = app.search.hits.len();
    if let Some(d) = movement(&k, h) {
        move_in(&mut app.search.cursor, &mut app.search.offset, d, h, len);
        return Vec::new();
    }
    match k.code {
        KeyCode::Char('/') | KeyCode::Char('i') => {
            app.search.editing = true;
            Vec::new()
        }
        KeyCode::Enter if len > 0 => {
            // start on the message: what the officer reads first
            let index = app.search.cursor.min(len - 1);
            let fields = &app.search.hits[index].fields;
            let cursor = fields.iter().position(|(k, _)| k == "message").unwrap_or(0);
            let offset = scroll_window(cursor, 0, app.event_rows(), fields.len());
            app.search.event = Some(EventView {
                index,
                cursor,
                offset,
            });
            Vec::new()
        }
        KeyCode::Char('t') => {
            app.search.range = if app.search.custom.take().is_some() {
                app.search.range
            } else {
                app.search.range.next()
            };
            if app.search.query.trim().is_empty() {
                Vec::new()
            } else {
                vec![run_search(app)]
            }
        }
        KeyCode::Char('r') if !app.search.query.trim().is_empty() => vec![run_search(app)],
        _ => Vec::new(),
    }
}

fn on_rules_key(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    let h = app.rules_rows();
    let len = app.rules.rules.len();
    if let Some(d) = movement(&k, h) {
        move_in(&mut app.rules.cursor, &mut app.rules.offset, d, h, len);
        return Vec::new();
    }
    match k.code {
        KeyCode::Char('r') if !app.rules.reloading => {
            app.rules.reloading = true;
            app.set_flash(app.t(T::RulesReloading).to_owned(), false);
            vec![Cmd::ReloadRules]
        }
        _ => Vec::new(),
    }
}

fn on_modal_key(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    let Some(modal) = app.modal.take() else {
        return Vec::new();
    };
    let (keep, cmds) = match modal {
        Modal::Help => (None, Vec::new()),
        Modal::Close { ids, mut choice } => match k.code {
            KeyCode::Esc => (None, Vec::new()),
            KeyCode::Enter => {
                let reason = CLOSE_REASONS[choice].0.to_owned();
                app.queue.selected.clear();
                app.set_flash(app.t(T::Working).to_owned(), false);
                let cmd = Cmd::Triage {
                    ids,
                    action: Triage::Close(reason),
                };
                (None, vec![cmd])
            }
            KeyCode::Char(c @ '1'..='4') => {
                choice = c as usize - '1' as usize;
                (Some(Modal::Close { ids, choice }), Vec::new())
            }
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
                choice = (choice + 1) % CLOSE_REASONS.len();
                (Some(Modal::Close { ids, choice }), Vec::new())
            }
            KeyCode::Up | KeyCode::Char('k') | KeyCode::BackTab => {
                choice = (choice + CLOSE_REASONS.len() - 1) % CLOSE_REASONS.len();
                (Some(Modal::Close { ids, choice }), Vec::new())
            }
            _ => (Some(Modal::Close { ids, choice }), Vec::new()),
        },
        Modal::Prompt {
            kind,
            ids,
            mut input,
        } => match k.code {
            KeyCode::Esc => (None, Vec::new()),
            KeyCode::Enter => {
                let text = input.trim().to_owned();
                if text.is_empty() {
                    (Some(Modal::Prompt { kind, ids, input }), Vec::new())
                } else {
                    let action = match kind {
                        PromptKind::Note => Triage::Note(text),
                        PromptKind::Assign => Triage::Assign(text),
                    };
                    app.queue.selected.clear();
                    app.set_flash(app.t(T::Working).to_owned(), false);
                    (None, vec![Cmd::Triage { ids, action }])
                }
            }
            _ => {
                edit(&mut input, &k);
                (Some(Modal::Prompt { kind, ids, input }), Vec::new())
            }
        },
        Modal::Suppress(mut f) => match k.code {
            KeyCode::Esc => (None, Vec::new()),
            KeyCode::Tab | KeyCode::Down => {
                f.focus = (f.focus + 1) % SUPPRESS_FIELDS.len();
                (Some(Modal::Suppress(f)), Vec::new())
            }
            KeyCode::BackTab | KeyCode::Up => {
                f.focus = (f.focus + SUPPRESS_FIELDS.len() - 1) % SUPPRESS_FIELDS.len();
                (Some(Modal::Suppress(f)), Vec::new())
            }
            KeyCode::Enter => match suppression_body(&f) {
                Ok(body) => {
                    app.set_flash(app.t(T::Working).to_owned(), false);
                    (None, vec![Cmd::Suppress(body)])
                }
                Err(e) => {
                    f.error = Some(e);
                    (Some(Modal::Suppress(f)), Vec::new())
                }
            },
            _ => {
                edit(&mut f.values[f.focus], &k);
                f.error = None;
                (Some(Modal::Suppress(f)), Vec::new())
            }
        },
        Modal::Filter(mut f) => match k.code {
            KeyCode::Esc => (None, Vec::new()),
            KeyCode::Enter => (None, apply_filter(app, f.filter)),
            KeyCode::Tab | KeyCode::Down => {
                f.focus = (f.focus + 1) % 5;
                (Some(Modal::Filter(f)), Vec::new())
            }
            KeyCode::BackTab | KeyCode::Up => {
                f.focus = (f.focus + 4) % 5;
                (Some(Modal::Filter(f)), Vec::new())
            }
            code if f.focus < 2 => {
                let step: isize = match code {
                    KeyCode::Right | KeyCode::Char(' ') | KeyCode::Char('l') => 1,
                    KeyCode::Left | KeyCode::Char('h') => -1,
                    _ => 0,
                };
                if f.focus == 0 {
                    let n = StatusFilter::ALL.len() as isize;
                    let i = StatusFilter::ALL
                        .iter()
                        .position(|s| *s == f.filter.status)
                        .unwrap_or(0) as isize;
                    f.filter.status = StatusFilter::ALL[(i + step).rem_euclid(n) as usize];
                } else {
                    // None (any), then critical … informational
                    let n = LEVELS.len() as isize + 1;
                    let i = f.filter.min_level.map_or(0, |l| l as isize + 1);
                    let j = (i + step).rem_euclid(n);
                    f.filter.min_level = (j > 0).then(|| (j - 1) as u8);
                }
                (Some(Modal::Filter(f)), Vec::new())
            }
            _ => {
                let field = match f.focus {
                    2 => &mut f.filter.rule,
                    3 => &mut f.filter.host,
                    _ => &mut f.filter.text,
                };
                edit(field, &k);
                (Some(Modal::Filter(f)), Vec::new())
            }
        },
    };
    app.modal = keep;
    cmds
}

/// The `POST /api/v1/suppressions` body of a filled form, or what is missing.
pub fn suppression_body(f: &SuppressForm) -> Result<serde_json::Value, T> {
    let mut body = serde_json::Map::new();
    for ((name, _), v) in SUPPRESS_FIELDS.iter().zip(&f.values) {
        let v = v.trim();
        if !v.is_empty() {
            body.insert((*name).to_owned(), serde_json::Value::String(v.to_owned()));
        }
    }
    if !body.contains_key("justification") {
        return Err(T::SuppressNeedJustification);
    }
    let scoped = ["rule", "host", "user", "cidr", "field"]
        .iter()
        .any(|k| body.contains_key(*k));
    if !scoped {
        return Err(T::SuppressNeedScope);
    }
    Ok(serde_json::Value::Object(body))
}

fn apply_filter(app: &mut App, filter: crate::state::Filter) -> Vec<Cmd> {
    let status_changed = filter.status != app.queue.filter.status;
    app.queue.filter = filter;
    app.queue.cursor = 0;
    app.queue.offset = 0;
    if status_changed {
        // the engine filters by status: the old list does not hold the new one's alerts
        app.queue.replace(Vec::new());
        vec![load_alerts(app)]
    } else {
        app.queue.rebuild(None);
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::i18n::Lang;
    use crate::model::Counts;
    use crate::state::Range;

    fn key(c: char) -> Msg {
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }

    fn code(c: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    fn typed(app: &mut App, text: &str) {
        for c in text.chars() {
            update(app, key(c));
        }
    }

    fn app() -> App {
        fixture::app(Lang::En, (80, 24))
    }

    fn cursor_id(app: &App) -> i64 {
        app.queue.cursor_alert().unwrap().id
    }

    #[test]
    fn vi_keys_and_arrows_move_the_cursor() {
        let mut a = app();
        assert_eq!(cursor_id(&a), 103);
        update(&mut a, key('j'));
        assert_eq!(cursor_id(&a), 104);
        update(&mut a, code(KeyCode::Up));
        update(&mut a, key('k'));
        assert_eq!(cursor_id(&a), 102);
        update(&mut a, key('G'));
        assert_eq!(cursor_id(&a), 110);
        update(&mut a, key('g'));
        assert_eq!(cursor_id(&a), 101);
        // the fresh mark goes once the officer has been on the alert
        assert!(!a.queue.fresh.contains(&101));
    }

    #[test]
    fn enter_opens_the_alert_and_esc_goes_back() {
        let mut a = app();
        let cmds = update(&mut a, code(KeyCode::Enter));
        assert_eq!(cmds, [Cmd::LoadDetail(103)]);
        assert_eq!(a.detail.as_ref().unwrap().alert.id, 103);
        update(&mut a, Msg::Detail(Box::new(fixture::detail())));
        assert!(
            a.detail.as_ref().unwrap().data.is_none(),
            "another alert's detail"
        );
        let mut d = fixture::detail();
        d.alert.id = 103;
        update(&mut a, Msg::Detail(Box::new(d)));
        assert!(a.detail.as_ref().unwrap().data.is_some());
        update(&mut a, key('j'));
        assert_eq!(a.detail.as_ref().unwrap().scroll, 1);
        update(&mut a, code(KeyCode::Esc));
        assert!(a.detail.is_none());
    }

    #[test]
    fn acknowledge_acts_on_the_selection_else_the_cursor() {
        let mut a = app();
        let cmds = update(&mut a, key('a'));
        assert_eq!(
            cmds,
            [Cmd::Triage {
                ids: vec![104, 105],
                action: Triage::Ack
            }]
        );
        assert!(a.queue.selected.is_empty());
        let cmds = update(&mut a, key('a'));
        assert_eq!(
            cmds,
            [Cmd::Triage {
                ids: vec![103],
                action: Triage::Ack
            }]
        );
    }

    #[test]
    fn space_selects_several_and_esc_clears() {
        let mut a = app();
        a.queue.selected.clear();
        update(&mut a, key(' '));
        update(&mut a, key(' '));
        assert_eq!(a.queue.targets(), [103, 104]);
        update(&mut a, key('k'));
        update(&mut a, key(' '));
        assert_eq!(a.queue.targets(), [103]);
        update(&mut a, code(KeyCode::Esc));
        assert!(a.queue.selected.is_empty());
    }

    #[test]
    fn close_asks_for_the_reason() {
        let mut a = app();
        a.queue.selected.clear();
        assert!(update(&mut a, key('c')).is_empty());
        assert!(matches!(a.modal, Some(Modal::Close { choice: 0, .. })));
        update(&mut a, key('3'));
        let cmds = update(&mut a, code(KeyCode::Enter));
        assert_eq!(
            cmds,
            [Cmd::Triage {
                ids: vec![103],
                action: Triage::Close("benign".into())
            }]
        );
        assert!(a.modal.is_none());
        // Esc cancels without a command
        update(&mut a, key('c'));
        assert!(update(&mut a, code(KeyCode::Esc)).is_empty());
        assert!(a.modal.is_none());
    }

    #[test]
    fn suppress_needs_a_justification_and_sends_the_scope() {
        let mut a = app();
        a.queue.selected.clear();
        update(&mut a, key('g'));
        update(&mut a, key('s'));
        let Some(Modal::Suppress(f)) = &a.modal else {
            panic!("no form")
        };
        assert_eq!(f.values[0], "canh-linux-ssh-root-outside");
        assert_eq!(f.values[1], "bastion01");
        assert_eq!(f.values[2], "root");
        assert!(update(&mut a, code(KeyCode::Enter)).is_empty());
        assert!(matches!(
            &a.modal,
            Some(Modal::Suppress(f)) if f.error == Some(T::SuppressNeedJustification)
        ));
        typed(&mut a, "quét định kỳ");
        // clear the user: the suppression is for any user on this host
        update(&mut a, code(KeyCode::BackTab));
        update(&mut a, code(KeyCode::BackTab));
        update(&mut a, code(KeyCode::BackTab));
        update(&mut a, code(KeyCode::BackTab));
        update(
            &mut a,
            Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
        );
        let cmds = update(&mut a, code(KeyCode::Enter));
        assert_eq!(
            cmds,
            [Cmd::Suppress(serde_json::json!({
                "rule": "canh-linux-ssh-root-outside",
                "host": "bastion01",
                "justification": "quét định kỳ",
                "expires": "7d",
            }))]
        );
        update(&mut a, Msg::Suppressed(Ok(12)));
        assert_eq!(a.flash.as_ref().unwrap().text, "suppression #12 added");
    }

    #[test]
    fn suppression_without_scope_is_refused() {
        let f = SuppressForm {
            values: std::array::from_fn(|i| if i == 6 { "x".into() } else { String::new() }),
            ..Default::default()
        };
        assert_eq!(suppression_body(&f), Err(T::SuppressNeedScope));
    }

    #[test]
    fn note_and_assign_prompt_for_text() {
        let mut a = app();
        a.queue.selected.clear();
        update(&mut a, key('n'));
        typed(&mut a, "Đã xác minh");
        let cmds = update(&mut a, code(KeyCode::Enter));
        assert_eq!(
            cmds,
            [Cmd::Triage {
                ids: vec![103],
                action: Triage::Note("Đã xác minh".into())
            }]
        );
        update(&mut a, key('A'));
        assert!(matches!(&a.modal, Some(Modal::Prompt { input, .. }) if input == "an.nguyen"));
        let cmds = update(&mut a, code(KeyCode::Enter));
        assert_eq!(
            cmds,
            [Cmd::Triage {
                ids: vec![103],
                action: Triage::Assign("an.nguyen".into())
            }]
        );
        // an empty note is not sent
        update(&mut a, key('n'));
        assert!(update(&mut a, code(KeyCode::Enter)).is_empty());
        assert!(a.modal.is_some());
    }

    #[test]
    fn updated_alert_moves_and_done_reports() {
        let mut a = app();
        a.queue.filter.status = StatusFilter::New;
        a.queue.rebuild(None);
        let mut d = fixture::detail();
        d.alert.status = "acknowledged".into();
        update(&mut a, Msg::Updated(Box::new(d)));
        assert!(!a.queue.contains(101));
        update(
            &mut a,
            Msg::Done {
                action: Triage::Ack,
                ok: 1,
                failed: vec![],
            },
        );
        assert_eq!(a.flash.as_ref().unwrap().text, "acknowledged: 1 alert(s)");
        update(
            &mut a,
            Msg::Done {
                action: Triage::Close("benign".into()),
                ok: 0,
                failed: vec!["#3: 404 no alert 3".into()],
            },
        );
        let f = a.flash.as_ref().unwrap();
        assert!(f.error);
        assert_eq!(f.text, "closed: 0 done, 1 failed: #3: 404 no alert 3");
    }

    #[test]
    fn filter_text_is_local_and_status_reloads() {
        let mut a = app();
        update(&mut a, key('/'));
        typed(&mut a, "bastion");
        assert!(update(&mut a, code(KeyCode::Enter)).is_empty());
        assert_eq!(a.queue.visible.len(), 1);
        assert_eq!(cursor_id(&a), 101);
        // status all → new (it wraps round): the engine lists again, with a new generation
        update(&mut a, key('f'));
        update(&mut a, code(KeyCode::Right));
        let generation = a.queue.generation;
        let cmds = update(&mut a, code(KeyCode::Enter));
        assert_eq!(
            cmds,
            [Cmd::LoadAlerts {
                generation: generation + 1,
                status: "new"
            }]
        );
        // a page of the old listing is ignored, the new one is taken
        let page = |generation| Msg::AlertsPage {
            generation,
            first: true,
            done: true,
            truncated: false,
            list: AlertList {
                alerts: fixture::alerts()
                    .into_iter()
                    .filter(|x| x.status == "new")
                    .collect(),
                counts: Counts::default(),
            },
        };
        update(&mut a, page(generation));
        assert!(a.queue.is_empty());
        update(&mut a, page(generation + 1));
        assert_eq!(a.queue.len(), 6);
        assert!(!a.queue.loading);
    }

    #[test]
    fn level_filter_cycles_through_levels() {
        let mut a = app();
        update(&mut a, key('f'));
        update(&mut a, code(KeyCode::Tab));
        update(&mut a, code(KeyCode::Right));
        update(&mut a, code(KeyCode::Right));
        update(&mut a, code(KeyCode::Enter));
        assert_eq!(a.queue.filter.min_level, Some(1));
        assert_eq!(a.queue.visible.len(), 4);
        update(&mut a, key('f'));
        update(&mut a, code(KeyCode::Tab));
        update(&mut a, code(KeyCode::Left));
        update(&mut a, code(KeyCode::Left));
        update(&mut a, code(KeyCode::Enter));
        assert_eq!(a.queue.filter.min_level, None);
    }

    #[test]
    fn live_alerts_are_inserted_in_order_and_marked() {
        let mut a = app();
        let mut x = fixture::alerts().remove(0);
        x.id = 500;
        x.last_seen = "2025-06-01T02:59:59.000Z".into();
        update(&mut a, Msg::AlertLive(Box::new(x)));
        assert_eq!(a.queue.row(0).unwrap().id, 500);
        assert!(a.queue.fresh.contains(&500));
        // the cursor stayed on the alert it was on
        assert_eq!(cursor_id(&a), 103);
    }

    #[test]
    fn connection_changes_show_a_banner_and_reload() {
        let mut a = app();
        update(
            &mut a,
            Msg::Disconnected {
                reason: "refused".into(),
                retry_in_s: 2,
                attempt: 2,
            },
        );
        assert!(a.banner());
        let cmds = update(&mut a, Msg::Connected);
        assert_eq!(
            cmds,
            [
                Cmd::LoadAlerts {
                    generation: 1,
                    status: "all"
                },
                Cmd::LoadRules
            ]
        );
        assert!(!a.banner());
        assert_eq!(a.flash.as_ref().unwrap().text, "engine reachable again");
        // the stream breaking alone shows the banner; its return re-lists what was missed
        update(&mut a, Msg::StreamDown);
        assert!(a.banner());
        let cmds = update(&mut a, Msg::StreamUp);
        assert!(matches!(cmds[..], [Cmd::LoadAlerts { generation: 2, .. }]));
        assert!(update(&mut a, Msg::StreamUp).is_empty());
    }

    #[test]
    fn ticks_expire_messages_and_reread_recent_alerts() {
        let mut a = app();
        a.set_flash("x".into(), false);
        let t = a.now + chrono::Duration::seconds(REFRESH_SECS);
        let cmds = update(&mut a, Msg::Tick(t));
        assert_eq!(
            cmds,
            [Cmd::RefreshAlerts {
                since: "2025-06-01T02:55:10Z".into()
            }]
        );
        assert!(a.flash.is_none());
        assert!(update(&mut a, Msg::Tick(t + chrono::Duration::seconds(1))).is_empty());
    }

    #[test]
    fn search_runs_opens_an_event_and_pivots() {
        let mut a = app();
        update(&mut a, key('2'));
        assert_eq!(a.tab, Tab::Search);
        update(&mut a, key('/'));
        update(
            &mut a,
            Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
        );
        typed(&mut a, "user.name:root q");
        assert!(!a.quit, "q types while editing");
        let cmds = update(&mut a, code(KeyCode::Enter));
        let generation = a.search.generation;
        assert_eq!(
            cmds,
            [Cmd::Search {
                generation,
                query: "user.name:root q".into(),
                from: Some("2025-05-31T03:00:00Z".into()),
                to: None,
                limit: SEARCH_LIMIT,
            }]
        );
        update(
            &mut a,
            Msg::SearchDone {
                generation: generation - 1,
                result: Ok(vec![]),
            },
        );
        assert!(a.search.running, "a stale answer is ignored");
        update(
            &mut a,
            Msg::SearchDone {
                generation,
                result: Ok(fixture::hits()),
            },
        );
        assert!(!a.search.running);
        update(&mut a, key('j'));
        update(&mut a, code(KeyCode::Enter));
        let ev = a.search.event.clone().unwrap();
        assert_eq!(ev.index, 1);
        assert_eq!(a.search.hits[1].fields[ev.cursor].0, "message");
        update(&mut a, key('j'));
        update(&mut a, key('j'));
        let cmds = update(&mut a, code(KeyCode::Enter));
        assert!(
            matches!(&cmds[..], [Cmd::Search { query, .. }] if query == "process.pid:\"4243\"")
        );
        // t changes the range and runs again
        let cmds = update(&mut a, key('t'));
        assert_eq!(a.search.range, Range::D7);
        assert!(matches!(&cmds[..], [Cmd::Search { .. }]));
        let generation = a.search.generation;
        update(
            &mut a,
            Msg::SearchDone {
                generation,
                result: Err("query \"(\": syntax error".into()),
            },
        );
        assert!(a.search.error.is_some());
    }

    #[test]
    fn events_of_an_alert_open_in_search() {
        let mut a = fixture::app_with_detail(Lang::En, (80, 24));
        let cmds = update(&mut a, key('e'));
        assert_eq!(a.tab, Tab::Search);
        let [
            Cmd::Search {
                query, from, to, ..
            },
        ] = &cmds[..]
        else {
            panic!("{cmds:?}")
        };
        assert!(query.starts_with("canh.rule.id:\"canh-linux-ssh-root-outside\""));
        assert_eq!(from.as_deref(), Some("2025-06-01T02:51:00.000Z"));
        assert_eq!(to.as_deref(), Some("2025-06-01T02:58:00.000Z"));
    }

    #[test]
    fn rules_reload_then_relist() {
        let mut a = app();
        update(&mut a, key('4'));
        let cmds = update(&mut a, key('r'));
        assert_eq!(cmds, [Cmd::ReloadRules]);
        assert!(update(&mut a, key('r')).is_empty(), "one reload at a time");
        let cmds = update(&mut a, Msg::Reloaded(Ok("12 rules".into())));
        assert_eq!(cmds, [Cmd::LoadRules]);
        update(&mut a, Msg::Reloaded(Err("rules/x.yml:3:1: bad".into())));
        assert!(a.flash.as_ref().unwrap().error);
    }

    #[test]
    fn help_opens_and_any_key_closes_and_q_quits() {
        let mut a = app();
        update(&mut a, key('?'));
        assert_eq!(a.modal, Some(Modal::Help));
        assert!(
            update(&mut a, key('q')).is_empty(),
            "q closes the help first"
        );
        assert!(a.modal.is_none());
        assert_eq!(update(&mut a, key('q')), [Cmd::Quit]);
        let mut b = app();
        b.modal = Some(Modal::Filter(FilterForm::default()));
        let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(update(&mut b, ctrl_c), [Cmd::Quit]);
    }

    #[test]
    fn tab_cycles_screens_and_resize_keeps_the_cursor_in_view() {
        let mut a = app();
        for want in [Tab::Search, Tab::Overview, Tab::Rules, Tab::Alerts] {
            update(&mut a, code(KeyCode::Tab));
            assert_eq!(a.tab, want);
        }
        update(&mut a, key('G'));
        update(&mut a, Msg::Resize(80, 8));
        assert_eq!(a.queue_rows(), 4);
        assert!(a.queue.cursor >= a.queue.offset && a.queue.cursor < a.queue.offset + 4);
    }
}
