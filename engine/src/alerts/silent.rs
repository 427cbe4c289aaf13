//! Silent sources: every source (its `host.hostname`, else its address) learns its sending
//! rate; one that goes quiet for longer than `factor ×` its usual gap between events (and at
//! least the minimum silence) raises one alert per silence. Time is the engine's clock.

use std::collections::HashMap;

/// Sources tracked; beyond this, new sources are counted and not tracked.
pub const MAX_SOURCES: usize = 100_000;

#[derive(Debug, Clone)]
pub struct SilentConfig {
    /// Shortest silence that raises an alert.
    pub min_silence_ms: i64,
    /// Silence that raises an alert, in multiples of the source's mean gap between events.
    pub factor: f64,
    /// Events a source must have sent before its rate counts as learned.
    pub learn_events: u64,
}

impl Default for SilentConfig {
    fn default() -> Self {
        SilentConfig {
            min_silence_ms: 15 * 60 * 1000,
            factor: 10.0,
            learn_events: 100,
        }
    }
}

#[derive(Debug, Clone)]
struct Source {
    first_ms: i64,
    last_ms: i64,
    events: u64,
    alerted: bool,
}

/// A source that went quiet.
#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    pub source: String,
    pub last_seen_ms: i64,
    /// Its usual gap between events.
    pub mean_gap_ms: i64,
    pub threshold_ms: i64,
    pub events_before: u64,
}

#[derive(Debug, Default)]
pub struct SilentSources {
    cfg: SilentConfig,
    sources: HashMap<String, Source>,
    pub untracked: u64,
}

impl SilentSources {
    pub fn new(cfg: SilentConfig) -> SilentSources {
        SilentSources {
            cfg,
            sources: HashMap::new(),
            untracked: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.sources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// `n` events from `source` arrived at `now_ms`.
    pub fn record(&mut self, source: &str, n: u64, now_ms: i64) {
        if let Some(s) = self.sources.get_mut(source) {
            if s.alerted {
                // it speaks again: learn afresh from here
                *s = Source {
                    first_ms: now_ms,
                    last_ms: now_ms,
                    events: n,
                    alerted: false,
                };
            } else {
                s.last_ms = s.last_ms.max(now_ms);
                s.events += n;
            }
            return;
        }
        if self.sources.len() >= MAX_SOURCES {
            self.untracked += n;
            return;
        }
        self.sources.insert(
            source.to_owned(),
            Source {
                first_ms: now_ms,
                last_ms: now_ms,
                events: n,
                alerted: false,
            },
        );
    }

    fn threshold(&self, s: &Source) -> Option<(i64, i64)> {
        if s.events < self.cfg.learn_events.max(2) {
            return None;
        }
        let span = s.last_ms - s.first_ms;
        let gap = span / (s.events as i64 - 1).max(1);
        let t = ((gap as f64) * self.cfg.factor) as i64;
        Some((gap, t.max(self.cfg.min_silence_ms)))
    }

    /// Sources silent past their threshold at `now_ms` that were not reported yet.
    pub fn check(&mut self, now_ms: i64) -> Vec<Silence> {
        let mut out = Vec::new();
        let keys: Vec<String> = self
            .sources
            .iter()
            .filter(|(_, s)| !s.alerted)
            .filter_map(|(k, s)| {
                let (_, t) = self.threshold(s)?;
                (now_ms - s.last_ms > t).then(|| k.clone())
            })
            .collect();
        for k in keys {
            let s = self.sources.get(&k).expect("key from the map").clone();
            let (gap, t) = self.threshold(&s).expect("checked above");
            out.push(Silence {
                source: k.clone(),
                last_seen_ms: s.last_ms,
                mean_gap_ms: gap,
                threshold_ms: t,
                events_before: s.events,
            });
            if let Some(m) = self.sources.get_mut(&k) {
                m.alerted = true;
            }
        }
        out.sort_by(|a, b| a.source.cmp(&b.source));
        out
    }

    /// Sources currently silent past their threshold (for status), reported or not.
    pub fn silent_now(&self, now_ms: i64) -> Vec<String> {
        let mut v: Vec<String> = self
            .sources
            .iter()
            .filter(|(_, s)| {
                s.alerted
                    || self
                        .threshold(s)
                        .is_some_and(|(_, t)| now_ms - s.last_ms > t)
            })
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SilentConfig {
        SilentConfig {
            min_silence_ms: 5_000,
            factor: 10.0,
            learn_events: 10,
        }
    }

    #[test]
    fn a_learned_source_that_stops_raises_once() {
        let mut s = SilentSources::new(cfg());
        // one event a second for 20 s
        for t in 0..20 {
            s.record("fw01", 1, t * 1000);
        }
        // gap 1 s × 10 = 10 s threshold
        assert!(s.check(19_000 + 10_000).is_empty());
        let got = s.check(19_000 + 10_001);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].source, "fw01");
        assert_eq!(got[0].threshold_ms, 10_000);
        assert!(s.check(60_000).is_empty(), "one alert per silence");
        assert_eq!(s.silent_now(60_000), ["fw01"]);
        // it comes back, learns again, goes quiet again: a second alert
        for t in 100..120 {
            s.record("fw01", 1, t * 1000);
        }
        assert!(s.silent_now(120_000).is_empty());
        assert_eq!(s.check(119_000 + 10_001).len(), 1);
    }

    #[test]
    fn unlearned_sources_and_the_minimum_silence() {
        let mut s = SilentSources::new(cfg());
        for t in 0..5 {
            s.record("new", 1, t * 10);
        }
        assert!(s.check(1_000_000).is_empty(), "not learned yet");
        // a chatty source: 10 ms gaps, but the minimum silence is 5 s
        for t in 0..100 {
            s.record("chatty", 1, t * 10);
        }
        assert!(s.check(990 + 5_000).is_empty());
        assert_eq!(s.check(990 + 5_001).len(), 1);
    }
}
