//! Data-driven tests: the semantics table, exact diagnostics, filters and routing, and
//! property tests (naive evaluator ≡ an independent oracle; the loader never panics).

mod correlate;
mod errors;
mod props;
mod semantics;

use crate::{LoadReport, LoadStatus, Mapping, RuleSet};
use std::collections::BTreeMap;

/// A rule around a `detection:` body (indented four spaces in the text given).
pub(crate) fn rule_with(detection: &str) -> String {
    format!(
        "title: t\nid: rule-under-test\nlogsource:\n    product: linux\ndetection:\n{detection}"
    )
}

/// Loads files and returns the set and reports.
pub(crate) fn load(files: &[(&str, &str)]) -> (RuleSet, Vec<LoadReport>) {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect();
    RuleSet::load(&files, Mapping::builtin())
}

/// A test-format event.
pub(crate) fn event(fields: &[(&str, &str)]) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The one report's status, as text for messages.
pub(crate) fn only_status(reports: &[LoadReport]) -> &LoadStatus {
    assert_eq!(reports.len(), 1, "{reports:#?}");
    &reports[0].status
}
