//! Criterion benches of the rule engine on real rules and real logs: SigmaHQ's linux, network
//! and web rules plus canh's own pack, over loghub's Linux and OpenSSH lines (parsed once up
//! front; the benches measure matching only).
//!
//! - `rules_match`: events/s through logsource routing and every rule — the reference
//!   evaluator (`matches_naive`), the fast matcher's pure-Rust, Hyperscan and Hyperscan-only
//!   backends. Match counts are checked equal before measuring.
//! - `rules_match_flat`: the same lines as flat maps of the rules' own field names, every rule
//!   applying to every event (sigma-rust does no routing): canh (reference and fast) vs the
//!   `sigma-rust` crate, on the SigmaHQ rules both load that have no keyword list (keyword
//!   semantics differ, see `rules/tests/sigmahq/sigma_rust.rs`). Match counts checked equal.
//! - `rules_compile`: loading and compiling the rule set replicated to about 3,000 rules.
//! - `rules_keywords`: bytes/s scanning the lines for the literal keywords of the rule set's
//!   keyword lists, against `grep -F -i -f` on the same bytes (timed here in a loop, printed).
//!
//! Without `../shared/corpora` the benches print one line and measure nothing.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use canh_collectors::syslog::{self, ParseContext};
use canh_core::{Event, Origin};
use canh_rules::fast::{Backend, FastMatcher};
use canh_rules::{Anchor, Mapping, PatternSource, RuleSet};
use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Copies of the loghub lines in the measured event vector (about 32,000 events).
const EVENT_COPIES: usize = 8;
/// Copies of the rule set for the compile bench (371 rules → about 3,000).
const RULE_COPIES: usize = 8;
/// Copies of the loghub lines in the keyword-scan corpus (about 3.9 MB).
const KEYWORD_COPIES: usize = 12;
/// Literal counts of the one-field comparison (aho-corasick vs Hyperscan).
const LITERAL_COUNTS: [usize; 6] = [1, 2, 4, 16, 64, 256];
/// Shortest keyword in the "long" keyword-scan set.
const MIN_DISTINCT_KEYWORD: usize = 4;
/// Timed grep runs; the median is printed.
const GREP_RUNS: usize = 7;

/// `n` under `cargo bench`; 1 when `cargo test --all-targets` runs this binary once in test
/// mode (unoptimised), which only checks that every bench works and the counts agree.
fn scaled(n: usize) -> usize {
    if std::env::args().any(|a| a == "--bench") {
        n
    } else {
        1
    }
}

fn corpora() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora")
}

fn rule_files(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            rule_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml")
            && let Ok(text) = std::fs::read_to_string(&p)
        {
            out.push((p.display().to_string(), text));
        }
    }
}

/// Rule files as (path, text).
type Files = Vec<(String, String)>;

/// SigmaHQ linux/network/web rule files, and canh's pack.
fn files() -> (Files, Files) {
    let mut sigma = Vec::new();
    for sub in ["linux", "network", "web"] {
        rule_files(&corpora().join("sigma-rules/rules").join(sub), &mut sigma);
    }
    let mut pack = Vec::new();
    rule_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/canh"),
        &mut pack,
    );
    (sigma, pack)
}

/// loghub's Linux and OpenSSH lines.
fn lines() -> Vec<String> {
    let mut out = Vec::new();
    for f in ["Linux/Linux_2k.log", "OpenSSH/OpenSSH_2k.log"] {
        if let Ok(text) = std::fs::read_to_string(corpora().join("loghub-syslog").join(f)) {
            out.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
        }
    }
    out
}

fn parse(lines: &[String]) -> Vec<Event> {
    let ctx = ParseContext {
        received: Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap(),
        zone: "+07:00".parse().unwrap(),
    };
    lines
        .iter()
        .map(|l| syslog::parse(l.as_bytes(), &ctx, Origin::new("bench", None)))
        .collect()
}

/// `ev` as a flat map of the field names `set`'s rules write (values by canh's mapping).
fn flat(set: &RuleSet, ev: &Event) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |f: &canh_rules::FieldRef| {
        if !out.contains_key(&f.written)
            && let Some(v) = canh_rules::eval::field_value(ev, f)
        {
            out.insert(f.written.clone(), v.into_owned());
        }
    };
    set.fields().iter().for_each(&mut put);
    set.checks().iter().for_each(|c| put(c.field()));
    out
}

/// Whether a rule's detection has a keyword list (a list of plain values).
fn has_keyword_list(text: &str) -> bool {
    let (docs, _) = canh_rules::yaml::parse(text);
    let Some(det) = docs.first().and_then(|d| d.get("detection")) else {
        return false;
    };
    det.as_map()
        .unwrap_or(&[])
        .iter()
        .any(|(_, v)| match &v.kind {
            canh_rules::yaml::NodeKind::Seq(items) => items.iter().all(|i| i.as_str().is_some()),
            canh_rules::yaml::NodeKind::Map(m) => m.len() == 1 && m[0].0.as_str() == Some("|all"),
            _ => false,
        })
}

fn backends() -> [(&'static str, Backend); 3] {
    [
        ("fast_pure_rust", Backend::PureRust),
        ("fast_hyperscan", Backend::Hyperscan),
        ("fast_hyperscan_all", Backend::HyperscanAll),
    ]
}

fn matching(c: &mut Criterion) {
    let (mut files, pack) = files();
    let lines = lines();
    if files.is_empty() || lines.is_empty() {
        println!("rules benches skipped: ../shared/corpora not found");
        return;
    }
    files.extend(pack);
    let (set, _) = RuleSet::load(&files, Mapping::builtin());
    let parsed = parse(&lines);
    let events: Vec<Event> = (0..scaled(EVENT_COPIES))
        .flat_map(|_| parsed.clone())
        .collect();
    println!(
        "rules_match: {} rules, {} patterns on {} fields; {} events ({} loghub lines x {})",
        set.compiled().len(),
        set.patterns().len(),
        set.fields().len(),
        events.len(),
        lines.len(),
        scaled(EVENT_COPIES)
    );
    let count_naive: usize = events.iter().map(|e| set.matches_naive(e).len()).sum();
    let mut g = c.benchmark_group("rules_match");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(10);
    g.bench_function("reference_naive", |b| {
        b.iter(|| {
            events
                .iter()
                .map(|e| set.matches_naive(e).len())
                .sum::<usize>()
        })
    });
    for (name, backend) in backends() {
        let fast = FastMatcher::build_with(&set, backend).unwrap();
        let mut hits = canh_rules::fast::BitHits::default();
        let count = |hits: &mut canh_rules::fast::BitHits| {
            events
                .iter()
                .map(|e| {
                    fast.hits_into(&set, e, hits);
                    set.matches(e, hits).len()
                })
                .sum::<usize>()
        };
        let n = count(&mut hits);
        assert_eq!(n, count_naive, "{name} disagrees with the reference");
        println!("rules_match: {name}: {n} matches (reference: {count_naive})");
        g.bench_function(name, |b| b.iter(|| count(&mut hits)));
    }
    g.finish();

    // flat events, no routing: canh vs sigma-rust on the rules both load without keywords
    let mut sigma_rules = Vec::new();
    let mut both_files = Vec::new();
    for (path, text) in files.iter().filter(|(p, _)| p.contains("sigma-rules")) {
        let (one, _) = RuleSet::load(&[(path.clone(), text.clone())], Mapping::builtin());
        if one.compiled().len() != 1 || has_keyword_list(text) {
            continue;
        }
        if let Ok(r) = sigma_rust::rule_from_yaml(text) {
            sigma_rules.push(r);
            both_files.push((path.clone(), text.clone()));
        }
    }
    let (fset, _) = RuleSet::load(&both_files, Mapping::builtin());
    let flats: Vec<BTreeMap<String, String>> = parsed.iter().map(|e| flat(&fset, e)).collect();
    let sevents: Vec<sigma_rust::Event> = flats
        .iter()
        .map(|m| {
            let mut ev = sigma_rust::Event::new();
            for (k, v) in m {
                ev.insert(k.as_str(), v.as_str());
            }
            ev
        })
        .collect();
    let fast = FastMatcher::build(&fset).unwrap();
    let canh_count: usize = flats.iter().map(|e| fast.matches(&fset, e).len()).sum();
    let naive_count: usize = flats.iter().map(|e| fset.matches_naive(e).len()).sum();
    let sigma_count: usize = sevents
        .iter()
        .map(|e| sigma_rules.iter().filter(|r| r.is_match(e)).count())
        .sum();
    println!(
        "rules_match_flat: {} rules, {} events; matches: canh fast {canh_count}, canh \
         reference {naive_count}, sigma-rust {sigma_count}",
        sigma_rules.len(),
        flats.len()
    );
    assert_eq!(canh_count, naive_count);
    assert_eq!(canh_count, sigma_count, "canh and sigma-rust disagree");
    let mut g = c.benchmark_group("rules_match_flat");
    g.throughput(Throughput::Elements(flats.len() as u64));
    g.sample_size(10);
    g.bench_function("canh_reference_naive", |b| {
        b.iter(|| {
            flats
                .iter()
                .map(|e| fset.matches_naive(e).len())
                .sum::<usize>()
        })
    });
    g.bench_function("canh_fast_hyperscan", |b| {
        b.iter(|| {
            flats
                .iter()
                .map(|e| fast.matches(&fset, e).len())
                .sum::<usize>()
        })
    });
    g.bench_function("sigma_rust", |b| {
        b.iter(|| {
            sevents
                .iter()
                .map(|e| sigma_rules.iter().filter(|r| r.is_match(e)).count())
                .sum::<usize>()
        })
    });
    g.finish();
}

/// The rule files `copies` times over, each copy with its own ids and titles.
fn replicate(files: &[(String, String)], copies: usize) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(files.len() * copies);
    for k in 0..copies {
        for (path, text) in files {
            let text: String = text
                .lines()
                .map(|l| {
                    if let Some(id) = l.strip_prefix("id: ") {
                        format!("id: {}-copy{k}\n", id.trim())
                    } else if let Some(t) = l.strip_prefix("title: ") {
                        format!("title: {} (copy {k})\n", t.trim())
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            out.push((format!("{path}#copy{k}"), text));
        }
    }
    out
}

fn compile(c: &mut Criterion) {
    let (mut files, pack) = files();
    if files.is_empty() {
        return;
    }
    files.extend(pack);
    let many = replicate(&files, scaled(RULE_COPIES));
    let (set, _) = RuleSet::load(&many, Mapping::builtin());
    println!(
        "rules_compile: {} files, {} compiled rules, {} distinct patterns",
        many.len(),
        set.compiled().len(),
        set.patterns().len()
    );
    let mut g = c.benchmark_group("rules_compile");
    g.sample_size(10);
    g.bench_function("load_3000_rules", |b| {
        b.iter(|| RuleSet::load(&many, Mapping::builtin()).0.compiled().len())
    });
    for (name, backend) in backends() {
        g.bench_function(BenchmarkId::new("build_3000_rules", name), |b| {
            b.iter(|| {
                FastMatcher::build_with(&set, backend)
                    .unwrap()
                    .fallbacks()
                    .len()
            })
        });
    }
    g.finish();
}

/// Escapes a literal as a Sigma value (`\`, `*`, `?`) inside a single-quoted YAML scalar.
fn sigma_quoted(text: &str) -> String {
    let mut out = String::from("'");
    for ch in text.chars() {
        match ch {
            '\\' | '*' | '?' => {
                out.push('\\');
                out.push(ch);
            }
            '\'' => out.push_str("''"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn keywords(c: &mut Criterion) {
    let (mut files, pack) = files();
    let lines = lines();
    if files.is_empty() || lines.is_empty() {
        return;
    }
    files.extend(pack);
    // the keywords (keyword lists: substrings of the message) of the rules that have them,
    // as canh compiled them (folded, escapes read); values with wildcards are left out
    let mut words: Vec<String> = Vec::new();
    for (path, text) in files.iter().filter(|(_, t)| has_keyword_list(t)) {
        let (one, _) = RuleSet::load(&[(path.clone(), text.clone())], Mapping::builtin());
        words.extend(one.patterns().iter().filter_map(|p| {
            let field = one.fields().get(p.field.0 as usize)?;
            match &p.source {
                PatternSource::Literal {
                    text,
                    anchor: Anchor::Contains,
                    cased: false,
                } if field.written == "message" && !text.is_empty() && !text.contains('\n') => {
                    Some(text.clone())
                }
                _ => None,
            }
        }));
    }
    words.sort();
    words.dedup();
    // all of them (`:`, `0`, `6` are keywords of SigmaHQ rules: nearly every line matches),
    // and only the distinctive ones (at least MIN_DISTINCT_KEYWORD bytes: few lines match,
    // so grep cannot stop at the first character of a line)
    let long: Vec<String> = words
        .iter()
        .filter(|w| w.len() >= MIN_DISTINCT_KEYWORD)
        .cloned()
        .collect();
    literal_field(c, &lines, &long);
    for (set_name, words) in [("all", words), ("long", long)] {
        keyword_scan(c, &lines, set_name, &words);
    }
}

/// A rule set of one rule: `words` as a keyword list.
fn keyword_rule_set(words: &[String]) -> RuleSet {
    let rule = format!(
        "title: keywords\nid: bench-keywords\nlogsource: {{product: linux}}\ndetection:\n    \
         keywords:\n{}    condition: keywords\nlevel: low\n",
        words
            .iter()
            .map(|w| format!("        - {}\n", sigma_quoted(w)))
            .collect::<String>()
    );
    let (set, reports) = RuleSet::load(&[("keywords.yml".into(), rule)], Mapping::builtin());
    assert!(
        reports.iter().all(|r| r.status.is_compiled()),
        "{reports:?}"
    );
    set
}

/// Lines of `corpus` on which some pattern of `set` hits.
fn lines_hit(fast: &FastMatcher, set: &RuleSet, corpus: &[BTreeMap<String, String>]) -> usize {
    let mut hits = canh_rules::fast::BitHits::default();
    corpus
        .iter()
        .filter(|e| {
            fast.hits_into(set, *e, &mut hits);
            hits.count() > 0
        })
        .count()
}

/// One field with only literals: aho-corasick vs Hyperscan by the number of literals (what
/// `Backend::Hyperscan` decides literal-only fields on).
fn literal_field(c: &mut Criterion, lines: &[String], words: &[String]) {
    let corpus: Vec<BTreeMap<String, String>> = lines
        .iter()
        .map(|l| [("message".to_owned(), l.clone())].into())
        .collect();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut g = c.benchmark_group("rules_literal_field");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(2));
    for n in LITERAL_COUNTS {
        if n > words.len() {
            continue;
        }
        // spread over the sorted list, not its first letters
        let pick: Vec<String> = words
            .iter()
            .step_by(words.len() / n)
            .take(n)
            .cloned()
            .collect();
        let set = keyword_rule_set(&pick);
        let mut want = None;
        for (name, backend) in [
            ("aho_corasick", Backend::PureRust),
            ("hyperscan", Backend::HyperscanAll),
        ] {
            let fast = FastMatcher::build_with(&set, backend).unwrap();
            let got = lines_hit(&fast, &set, &corpus);
            assert_eq!(*want.get_or_insert(got), got);
            g.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter(|| lines_hit(&fast, &set, &corpus))
            });
        }
    }
    g.finish();
}

/// Keyword scan of the loghub lines (KEYWORD_COPIES times over): canh's backends, and grep.
fn keyword_scan(c: &mut Criterion, lines: &[String], set_name: &str, words: &[String]) {
    let kset = keyword_rule_set(words);
    let corpus: Vec<BTreeMap<String, String>> = (0..scaled(KEYWORD_COPIES))
        .flat_map(|_| lines.iter())
        .map(|l| [("message".to_owned(), l.clone())].into())
        .collect();
    let bytes: usize = corpus.iter().map(|m| m["message"].len() + 1).sum();

    // grep -F -i -f on the same bytes
    let dir = tempfile::tempdir().unwrap();
    let pat = dir.path().join("patterns.txt");
    let txt = dir.path().join("corpus.txt");
    std::fs::write(&pat, words.join("\n") + "\n").unwrap();
    let mut f = std::fs::File::create(&txt).unwrap();
    for m in &corpus {
        writeln!(f, "{}", m["message"]).unwrap();
    }
    drop(f);
    let mut grep_count = None;
    let mut times = Vec::new();
    let runs = scaled(GREP_RUNS);
    for _ in 0..runs {
        let t = Instant::now();
        let Ok(out) = std::process::Command::new("grep")
            .env("LC_ALL", "C")
            .args(["-F", "-i", "-c", "-f"])
            .arg(&pat)
            .arg(&txt)
            .output()
        else {
            println!("rules_keywords: grep not found");
            break;
        };
        times.push(t.elapsed());
        grep_count = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<usize>()
            .ok();
    }
    times.sort();
    let ours = |fast: &FastMatcher| lines_hit(fast, &kset, &corpus);
    let kfast = FastMatcher::build_with(&kset, Backend::PureRust).unwrap();
    let our_count = ours(&kfast);
    if let Some(median) = times.get(times.len() / 2) {
        println!(
            "rules_keywords/{set_name}: {} keywords, {} lines, {bytes} bytes; grep -F -i -f (LC_ALL=C): \
             median of {runs} runs {:?} = {:.1} MiB/s, {} matching lines; canh: {our_count} \
             matching lines",
            words.len(),
            corpus.len(),
            median,
            bytes as f64 / median.as_secs_f64() / (1024.0 * 1024.0),
            grep_count.map_or("?".to_owned(), |n| n.to_string()),
        );
    }
    let mut g = c.benchmark_group("rules_keywords");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    for (name, backend) in [
        ("aho_corasick", Backend::PureRust),
        ("hyperscan", Backend::HyperscanAll),
    ] {
        let fast = FastMatcher::build_with(&kset, backend).unwrap();
        assert_eq!(ours(&fast), our_count);
        g.bench_function(BenchmarkId::new(name, set_name), |b| b.iter(|| ours(&fast)));
    }
    g.finish();
}

criterion_group!(benches, matching, compile, keywords);
criterion_main!(benches);
