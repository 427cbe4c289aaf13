//! Every string the console shows, in English and Vietnamese, in one catalog.
//!
//! `T::X.tr(lang)` gives the text; strings with `{}` are filled in order by [`fill`]. A test
//! checks that both languages of every entry take the same number of values.

use std::fmt;
use std::str::FromStr;

/// The console's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Lang {
    #[default]
    En,
    Vi,
}

/// A `--lang` value that is neither `vi` nor `en`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("language {0:?}: expected vi or en")]
pub struct ParseLangError(pub String);

impl FromStr for Lang {
    type Err = ParseLangError;

    fn from_str(s: &str) -> Result<Lang, ParseLangError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "vi" => Ok(Lang::Vi),
            "en" => Ok(Lang::En),
            _ => Err(ParseLangError(s.to_owned())),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::En => "en",
            Lang::Vi => "vi",
        })
    }
}

impl Lang {
    /// Vietnamese when `$LANG` starts with `vi` (`vi_VN.UTF-8`), else English.
    pub fn from_env() -> Lang {
        Lang::from_locale(&std::env::var("LANG").unwrap_or_default())
    }

    /// Vietnamese for a locale name starting with `vi`, else English.
    pub fn from_locale(locale: &str) -> Lang {
        if locale.trim().to_ascii_lowercase().starts_with("vi") {
            Lang::Vi
        } else {
            Lang::En
        }
    }
}

/// Replaces each `{}` in `template` with the next of `args` (missing ones stay empty).
pub fn fill(template: &str, args: &[&dyn fmt::Display]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut args = args.iter();
    let mut rest = template;
    while let Some(i) = rest.find("{}") {
        out.push_str(&rest[..i]);
        if let Some(a) = args.next() {
            out.push_str(&a.to_string());
        }
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    out
}

macro_rules! catalog {
    ($($key:ident => $en:literal, $vi:literal;)*) => {
        /// A catalog entry.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum T {
            $($key,)*
        }

        impl T {
            /// Every entry, for the catalog's own tests.
            pub const ALL: &'static [T] = &[$(T::$key,)*];

            /// The entry's text in `lang`.
            pub fn tr(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $(
                        (T::$key, Lang::En) => $en,
                        (T::$key, Lang::Vi) => $vi,
                    )*
                }
            }
        }
    };
}

catalog! {
    // screens
    TabAlerts => "Alerts", "Cảnh báo";
    TabSearch => "Search", "Tìm kiếm";
    TabOverview => "Overview", "Tổng quan";
    TabRules => "Rules", "Luật";

    // alert statuses (full and short)
    StNew => "new", "mới";
    StAcknowledged => "acknowledged", "đã nhận";
    StClosed => "closed", "đã đóng";
    StAll => "all", "tất cả";
    StNewShort => "new", "mới";
    StAckShort => "ack", "nhận";
    StClosedShort => "closed", "đóng";

    // levels (full and short)
    LvCritical => "critical", "nghiêm trọng";
    LvHigh => "high", "cao";
    LvMedium => "medium", "trung bình";
    LvLow => "low", "thấp";
    LvInfo => "info", "thông tin";
    LvCriticalShort => "crit", "khẩn";
    LvHighShort => "high", "cao";
    LvMediumShort => "med", "vừa";
    LvLowShort => "low", "thấp";
    LvInfoShort => "info", "t.tin";
    LvAny => "any", "mọi mức";

    // alert kinds
    KindDetection => "detection", "phát hiện";
    KindCorrelation => "correlation", "tương quan";
    KindSilent => "silent source", "nguồn im lặng";

    // close reasons
    ReasonTruePositive => "true positive (real attack)", "đúng (tấn công thật)";
    ReasonFalsePositive => "false positive", "báo nhầm";
    ReasonBenign => "benign (expected activity)", "vô hại (hoạt động bình thường)";
    ReasonDuplicate => "duplicate", "trùng lặp";

    // header and banner
    Connecting => "connecting to {}…", "đang kết nối tới {}…";
    Disconnected => "engine unreachable — retrying in {} s (attempt {}) · {}: {}",
        "mất kết nối engine — thử lại sau {} giây (lần {}) · {}: {}";
    StreamDown => "live feed interrupted — reconnecting", "luồng trực tiếp bị ngắt — đang kết nối lại";
    Reconnected => "engine reachable again", "đã kết nối lại engine";

    // alert queue
    ColLevel => "level", "mức";
    ColStatus => "status", "trạng thái";
    ColStatusShort => "status", "t.thái";
    ColLastSeen => "last seen", "lần cuối";
    ColCount => "count", "số lần";
    ColAlert => "alert", "cảnh báo";
    ColGroup => "group", "nhóm";
    ColAssignee => "assignee", "người xử lý";
    QueueShown => "{} of {} alerts", "{} / {} cảnh báo";
    QueueSelected => "{} selected", "đã chọn {}";
    QueueLive => "{} arrived live", "{} mới đến";
    QueueLoading => "loading alerts…", "đang tải cảnh báo…";
    QueueEmpty => "no alerts — all quiet", "không có cảnh báo nào — mọi thứ yên ổn";
    QueueNoMatch => "no alert matches the filter", "không có cảnh báo nào khớp bộ lọc";
    QueueTruncated => "showing the first {} (refine the filter)", "chỉ hiện {} đầu tiên (thu hẹp bộ lọc)";
    FilterLabel => "filter", "lọc";
    FilterNone => "none", "không";

    // filter form
    FilterTitle => "Filter alerts", "Lọc cảnh báo";
    FieldStatus => "status", "trạng thái";
    FieldLevelMin => "level at least", "mức tối thiểu";
    FieldRule => "rule", "luật";
    FieldHost => "host", "máy";
    FieldText => "text", "chuỗi";
    FilterHint => "Tab next · ←→ change · Enter apply · Esc cancel", "Tab tiếp · ←→ đổi · Enter áp dụng · Esc hủy";

    // alert detail
    DetailRule => "rule", "luật";
    DetailKind => "kind", "loại";
    DetailStatus => "status", "trạng thái";
    DetailAssignee => "assignee", "người xử lý";
    DetailNobody => "nobody", "chưa giao";
    DetailCount => "count", "số lần";
    DetailValue => "value", "giá trị";
    DetailFirstSeen => "first seen", "lần đầu";
    DetailLastSeen => "last seen", "lần cuối";
    DetailGroup => "group", "nhóm";
    DetailMitre => "MITRE ATT&CK", "MITRE ATT&CK";
    DetailTags => "tags", "nhãn";
    DetailDescription => "description", "mô tả";
    DetailMatched => "matched fields", "trường khớp";
    DetailSamples => "sample events ({})", "sự kiện mẫu ({})";
    DetailNoSamples => "no sample kept", "không lưu sự kiện mẫu";
    DetailHistory => "history and notes", "lịch sử và ghi chú";
    DetailNoHistory => "no history yet", "chưa có lịch sử";
    DetailCloseReason => "close reason", "lý do đóng";
    DetailLoading => "loading samples and history…", "đang tải mẫu và lịch sử…";
    DetailRaw => "raw", "thô";
    HistCreated => "created", "được tạo";
    HistAcknowledged => "acknowledged", "đã nhận";
    HistAssigned => "assigned", "đã giao";
    HistClosed => "closed", "đã đóng";
    HistReopened => "reopened", "mở lại";
    HistNote => "note", "ghi chú";

    // close prompt
    CloseTitle => "Close {} alert(s) — why?", "Đóng {} cảnh báo — lý do?";
    CloseHint => "1-4 or ↑↓ choose · Enter close · Esc cancel", "1-4 hoặc ↑↓ chọn · Enter đóng · Esc hủy";

    // suppress form
    SuppressTitle => "Suppress future alerts like #{}", "Loại trừ các cảnh báo giống #{}";
    SuppressRule => "rule", "luật";
    SuppressHost => "host", "máy";
    SuppressUser => "user", "người dùng";
    SuppressCidr => "CIDR", "dải CIDR";
    SuppressField => "field", "trường";
    SuppressValue => "value", "giá trị";
    SuppressJustification => "justification", "lý do";
    SuppressExpires => "expires in", "hết hạn sau";
    SuppressHint => "Tab next · Enter save · Esc cancel · empty = not in scope",
        "Tab tiếp · Enter lưu · Esc hủy · để trống = không dùng";
    SuppressNeedJustification => "a justification is required", "cần nhập lý do";
    SuppressNeedScope => "give at least one of rule, host, user, CIDR, field", "cần ít nhất một trong luật, máy, người dùng, CIDR, trường";

    // text prompts
    NoteTitle => "Note on {} alert(s)", "Ghi chú cho {} cảnh báo";
    AssignTitle => "Assign {} alert(s) to", "Giao {} cảnh báo cho";
    PromptHint => "Enter save · Esc cancel", "Enter lưu · Esc hủy";

    // results of actions
    ActAck => "acknowledged", "đã nhận";
    ActClose => "closed", "đã đóng";
    ActNote => "note added", "đã thêm ghi chú";
    ActAssign => "assigned", "đã giao";
    DoneOk => "{}: {} alert(s)", "{}: {} cảnh báo";
    DoneFailed => "{}: {} done, {} failed: {}", "{}: {} xong, {} lỗi: {}";
    Suppressed => "suppression #{} added", "đã thêm loại trừ #{}";
    NothingSelected => "no alert under the cursor", "không có cảnh báo nào được chọn";
    Working => "working…", "đang xử lý…";
    ErrorPrefix => "error: {}", "lỗi: {}";

    // footer keys
    KeyAck => "ack", "nhận";
    KeyClose => "close", "đóng";
    KeySuppress => "suppress", "loại trừ";
    KeyNote => "note", "ghi chú";
    KeyAssign => "assign", "giao";
    KeySelect => "select", "chọn";
    KeyOpen => "open", "mở";
    KeyBack => "back", "quay lại";
    KeyFilter => "filter", "lọc";
    KeyFilters => "filters", "bộ lọc";
    KeyHelp => "help", "trợ giúp";
    KeyQuit => "quit", "thoát";
    KeyRefresh => "refresh", "làm mới";
    KeyEvents => "events", "sự kiện";
    KeyRange => "time range", "khoảng thời gian";
    KeyRun => "run", "chạy";
    KeyEdit => "edit query", "sửa truy vấn";
    KeyPivot => "search value", "tìm giá trị";
    KeyReload => "reload rules", "nạp lại luật";
    KeyScreens => "screens", "màn hình";
    KeyNext => "next field", "trường kế";
    KeyChange => "change", "đổi";
    KeyApply => "apply", "áp dụng";
    KeySave => "save", "lưu";
    KeyCancel => "cancel", "hủy";

    // help overlay
    HelpTitle => "Keys — any key closes", "Phím tắt — nhấn phím bất kỳ để đóng";
    HelpEverywhere => "Everywhere", "Mọi nơi";
    HelpQueue => "Alert queue and detail", "Hàng đợi và chi tiết cảnh báo";
    HelpSearch => "Search", "Tìm kiếm";
    HelpRules => "Rules", "Luật";
    HelpScreens => "switch screen", "chuyển màn hình";
    HelpHelp => "this help", "trợ giúp này";
    HelpQuit => "quit", "thoát";
    HelpMove => "move", "di chuyển";
    HelpEnds => "first / last", "đầu / cuối";
    HelpPage => "page up / down", "lên / xuống một trang";
    HelpOpen => "open", "mở";
    HelpBack => "back", "quay lại";
    HelpAck => "acknowledge", "xác nhận đã nhận";
    HelpClose => "close (asks why)", "đóng (hỏi lý do)";
    HelpSuppress => "suppress: scope, why, expiry", "loại trừ: phạm vi, lý do, hạn";
    HelpNote => "add a note", "thêm ghi chú";
    HelpAssign => "assign", "giao cho người xử lý";
    HelpSelect => "select several (bulk)", "chọn nhiều (xử lý hàng loạt)";
    HelpFilterText => "filter by text", "lọc theo chuỗi";
    HelpFilters => "filter status/level/rule/host", "lọc trạng thái/mức/luật/máy";
    HelpRefresh => "refresh", "làm mới";
    HelpEvents => "search the alert's events", "tìm sự kiện của cảnh báo";
    HelpQuery => "edit the query (Enter runs)", "sửa truy vấn (Enter để chạy)";
    HelpRange => "change the time range", "đổi khoảng thời gian";
    HelpPivot => "on a field: search its value", "trên trường: tìm theo giá trị";
    HelpReload => "reload the rules from disk", "nạp lại luật từ đĩa";

    // search
    SearchQuery => "query", "truy vấn";
    SearchRange => "range", "khoảng";
    Range15m => "last 15 min", "15 phút qua";
    Range1h => "last hour", "1 giờ qua";
    Range24h => "last 24 h", "24 giờ qua";
    Range7d => "last 7 days", "7 ngày qua";
    Range30d => "last 30 days", "30 ngày qua";
    RangeAll => "all time", "mọi lúc";
    RangeCustom => "{} → {}", "{} → {}";
    SearchCount => "{} events", "{} sự kiện";
    SearchRunning => "searching…", "đang tìm…";
    SearchPrompt => "type a query and press Enter — e.g. source.ip:203.0.113.5 or \"đăng nhập\"",
        "nhập truy vấn rồi nhấn Enter — ví dụ source.ip:203.0.113.5 hoặc \"đăng nhập\"";
    SearchNone => "no event matches", "không có sự kiện nào khớp";
    ColTime => "time", "thời gian";
    ColHost => "host", "máy";
    ColMessage => "message", "nội dung";
    EventTitle => "Event {} of {}", "Sự kiện {} / {}";
    ColField => "field", "trường";
    ColValue => "value", "giá trị";

    // overview
    OvListeners => "Listeners — events/s", "Cổng nhận — sự kiện/giây";
    OvRate => "{}/s", "{}/giây";
    OvParseErrors => "parse errors", "lỗi phân tích";
    OvDrops => "drops", "bị bỏ";
    OvConnections => "conn", "kết nối";
    OvHealth => "Health", "Tình trạng";
    OvEngine => "engine", "engine";
    OvVersion => "version {} · pid {} · up {}", "phiên bản {} · pid {} · chạy {}";
    OvUpdated => "status {} old", "trạng thái cách đây {}";
    OvQueue => "pipeline queue", "hàng đợi xử lý";
    OvWal => "WAL events", "sự kiện WAL";
    OvIndexed => "indexed", "đã lập chỉ mục";
    OvIndexErrors => "index errors", "lỗi chỉ mục";
    OvStage => "alert stage queue", "hàng đợi cảnh báo";
    OvStoreErrors => "store errors", "lỗi lưu trữ";
    OvSuppressed => "suppressed matches", "khớp đã loại trừ";
    OvSilent => "silent sources", "nguồn im lặng";
    OvInactive => "not listening", "không lắng nghe";
    OvCollector => "collector {}", "bộ thu {}";
    OvCollectorLine => "heard {} ago · {} batches unshipped, oldest {}", "nghe cách đây {} · {} lô chưa gửi, cũ nhất {}";
    OvConnected => "connected", "đã kết nối";
    OvDisconnected => "DISCONNECTED", "MẤT KẾT NỐI";
    OvShipRefused => "refused", "bị từ chối";
    OvCollectorsOk => "collectors shipping", "bộ thu đang gửi";
    OvRules => "rules", "luật";
    OvRulesLine => "{} on · {} unsupported · {} invalid", "{} bật · {} chưa hỗ trợ · {} lỗi";
    OvReloadError => "last reload failed", "lần nạp lại cuối bị lỗi";
    OvTopSources => "Top sources", "Nguồn gửi nhiều nhất";
    OvTopRules => "Top rules", "Luật khớp nhiều nhất";
    OvWaiting => "waiting for the engine's status…", "đang chờ trạng thái của engine…";
    OvNetflow => "NetFlow", "NetFlow";
    OvDecodeErrors => "decode errors", "lỗi giải mã";
    OvGaps => "gaps", "mất gói";
    OvOk => "ok", "ổn";
    OvNone => "none", "không có";

    // rules
    RulesState => "state", "trạng thái";
    RulesKey => "rule", "luật";
    RulesTitle => "title", "tên";
    RulesLevel => "level", "mức";
    RulesHits => "hits", "lượt khớp";
    RulesLastAlert => "last alert", "cảnh báo cuối";
    RuleOn => "on", "bật";
    RuleUnsupported => "unsupported", "chưa hỗ trợ";
    RuleInvalid => "invalid", "lỗi";
    RulesSummary => "{} rules: {} on · {} unsupported · {} invalid", "{} luật: {} bật · {} chưa hỗ trợ · {} lỗi";
    RulesReason => "reason", "lý do";
    RulesFile => "file", "tệp";
    RulesLoading => "loading rules…", "đang tải luật…";
    RulesReloading => "reloading rules…", "đang nạp lại luật…";
    RulesReloaded => "rules reloaded: {}", "đã nạp lại luật: {}";
    RulesRefused => "reload refused, the old rules stay: {}", "nạp lại bị từ chối, giữ bộ luật cũ: {}";
    Never => "never", "chưa có";

    // time
    AgoSeconds => "{} s", "{} giây";
    AgoMinutes => "{} min", "{} phút";
    AgoHours => "{} h", "{} giờ";
    AgoDays => "{} d", "{} ngày";
}

impl T {
    /// The entry filled with `args` (see [`fill`]).
    pub fn fmt(self, lang: Lang, args: &[&dyn fmt::Display]) -> String {
        fill(self.tr(lang), args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_has_both_languages_with_the_same_placeholders() {
        for t in T::ALL {
            let en = t.tr(Lang::En);
            let vi = t.tr(Lang::Vi);
            assert!(!en.is_empty() && !vi.is_empty(), "{t:?} is empty");
            assert_eq!(
                en.matches("{}").count(),
                vi.matches("{}").count(),
                "{t:?}: placeholders differ between en and vi"
            );
        }
    }

    #[test]
    fn lang_parses_and_follows_the_locale() {
        assert_eq!("vi".parse::<Lang>(), Ok(Lang::Vi));
        assert_eq!("EN".parse::<Lang>(), Ok(Lang::En));
        assert_eq!(
            "fr".parse::<Lang>().unwrap_err().to_string(),
            "language \"fr\": expected vi or en"
        );
        assert_eq!(Lang::from_locale("vi_VN.UTF-8"), Lang::Vi);
        assert_eq!(Lang::from_locale("en_US.UTF-8"), Lang::En);
        assert_eq!(Lang::from_locale("C.UTF-8"), Lang::En);
        assert_eq!(Lang::from_locale(""), Lang::En);
    }

    #[test]
    fn fill_puts_values_in_order() {
        assert_eq!(fill("{} of {}", &[&3, &"x"]), "3 of x");
        assert_eq!(fill("{} and {}", &[&1]), "1 and ");
        assert_eq!(T::QueueShown.fmt(Lang::Vi, &[&1, &2]), "1 / 2 cảnh báo");
    }
}
