//! Every fast-matcher backend ≡ the reference evaluator, on real rules and real logs: all of
//! SigmaHQ's linux/network/web rules plus canh's pack, over every line of loghub's Linux and
//! OpenSSH logs and canh's fixture lines — as parsed events (with logsource routing) and as
//! flat test-format events (every rule applies), pattern by pattern and rule by rule.

use super::{canh_pack_files, corpus_lines, flat_event, parse_lines, sigmahq_files};
use canh_rules::fast::{Backend, FastMatcher};
use canh_rules::{EventView, Mapping, NaiveHits, PatternHits, RuleSet};

fn backends() -> Vec<Backend> {
    vec![
        Backend::PureRust,
        #[cfg(feature = "hyperscan")]
        Backend::Hyperscan,
        #[cfg(feature = "hyperscan")]
        Backend::HyperscanAll,
    ]
}

#[test]
fn fast_matchers_equal_reference_on_corpora() {
    let Some(mut files) = sigmahq_files("fast_matchers_equal_reference_on_corpora") else {
        return;
    };
    files.extend(canh_pack_files());
    let (set, _) = RuleSet::load(&files, Mapping::builtin());
    let lines = corpus_lines("fast_matchers_equal_reference_on_corpora");
    let events = parse_lines(&lines);
    let flats: Vec<_> = events.iter().map(|e| flat_event(&set, e)).collect();
    let views: Vec<(&str, &dyn EventView)> = lines
        .iter()
        .zip(&events)
        .map(|((at, _), e)| (at.as_str(), e as &dyn EventView))
        .chain(
            lines
                .iter()
                .zip(&flats)
                .map(|((at, _), e)| (at.as_str(), e as &dyn EventView)),
        )
        .collect();
    // the reference: pattern hits and matched rules per event
    let reference: Vec<(Vec<bool>, Vec<canh_rules::RuleIdx>)> = views
        .iter()
        .map(|(_, ev)| {
            let naive = NaiveHits::new(&set, *ev);
            let hits = set.patterns().iter().map(|p| naive.hit(p.id)).collect();
            (hits, set.matches(*ev, &naive))
        })
        .collect();
    let matched = reference.iter().filter(|r| !r.1.is_empty()).count();
    let hit = reference.iter().filter(|r| r.0.contains(&true)).count();
    println!(
        "corpora: {} rules, {} patterns, {} lines ({} events, parsed and flat); {hit} events \
         hit a pattern, {matched} match a rule",
        set.compiled().len(),
        set.patterns().len(),
        lines.len(),
        views.len(),
    );
    assert!(matched > 0, "the corpus should match some rule");
    for backend in backends() {
        let fast = FastMatcher::build_with(&set, backend).expect("the rule set compiles");
        for f in fast.fallbacks() {
            println!("{backend:?}: {f}");
        }
        let mut bits = canh_rules::fast::BitHits::default();
        for ((at, ev), (want_hits, want_rules)) in views.iter().zip(&reference) {
            fast.hits_into(&set, *ev, &mut bits);
            for (p, want) in set.patterns().iter().zip(want_hits) {
                assert_eq!(
                    bits.hit(p.id),
                    *want,
                    "{backend:?}: pattern {} ({}) on {at}",
                    p.id,
                    p.source
                );
            }
            assert_eq!(
                &set.matches(*ev, &bits),
                want_rules,
                "{backend:?}: matched rules on {at}"
            );
        }
    }
}
