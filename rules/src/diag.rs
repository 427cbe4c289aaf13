//! Diagnostics: what is wrong with a rule, and where.

use std::fmt;

/// One problem in a rule file, rendered `file:line:col: message` (1-based line and column).
/// Messages are lowercase, without a trailing period, and say what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct Diag {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl Diag {
    pub fn new(file: &str, line: u32, col: u32, message: impl Into<String>) -> Self {
        Diag {
            file: file.to_owned(),
            line,
            col,
            message: message.into(),
        }
    }
}

/// What loading did with one rule document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadStatus {
    /// The rule is part of the rule set and is evaluated: detections and filters by
    /// [`crate::RuleSet::matches`], correlations by [`crate::correlate::Correlator`].
    Compiled,
    /// The rule is well-formed but uses something canh does not evaluate; it is skipped, and
    /// so is a correlation naming it.
    Unsupported { reason: String },
    /// The rule is wrong — for a correlation, also when a rule it names is not loaded, is
    /// invalid, is a filter, or leads back to it; every error found is listed.
    Invalid { errors: Vec<Diag> },
}

impl LoadStatus {
    pub fn is_compiled(&self) -> bool {
        matches!(self, LoadStatus::Compiled)
    }
}

impl fmt::Display for LoadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadStatus::Compiled => f.write_str("compiled"),
            LoadStatus::Unsupported { reason } => write!(f, "unsupported: {reason}"),
            LoadStatus::Invalid { errors } => write!(f, "invalid ({} errors)", errors.len()),
        }
    }
}

/// Collects errors and the first reason a rule cannot be evaluated while a document is read.
#[derive(Debug)]
pub(crate) struct Sink<'f> {
    pub file: &'f str,
    pub errors: Vec<Diag>,
    pub unsupported: Option<String>,
    /// Patterns and checks compiled so far for this rule.
    pub leaves: usize,
}

impl<'f> Sink<'f> {
    pub fn new(file: &'f str) -> Self {
        Sink {
            file,
            errors: Vec::new(),
            unsupported: None,
            leaves: 0,
        }
    }

    /// Counts `n` more leaves; false (and the rule unsupported) past
    /// [`crate::detection::MAX_LEAVES_PER_RULE`], checked as values expand so that a hostile
    /// rule cannot allocate its way past the limit first.
    pub fn spend(&mut self, n: usize) -> bool {
        self.leaves = self.leaves.saturating_add(n);
        if self.leaves > crate::detection::MAX_LEAVES_PER_RULE {
            self.unsupported(format!(
                "the detection compiles to more than {} tests",
                crate::detection::MAX_LEAVES_PER_RULE
            ));
            return false;
        }
        true
    }

    pub fn error(&mut self, line: u32, col: u32, message: impl Into<String>) {
        self.errors.push(Diag::new(self.file, line, col, message));
    }

    pub fn unsupported(&mut self, reason: impl Into<String>) {
        if self.unsupported.is_none() {
            self.unsupported = Some(reason.into());
        }
    }

    /// Invalid wins over unsupported: an error must be fixed whatever else the rule uses.
    pub fn status(&mut self) -> LoadStatus {
        if !self.errors.is_empty() {
            LoadStatus::Invalid {
                errors: std::mem::take(&mut self.errors),
            }
        } else if let Some(reason) = self.unsupported.take() {
            LoadStatus::Unsupported { reason }
        } else {
            LoadStatus::Compiled
        }
    }

    pub fn failed(&self) -> bool {
        !self.errors.is_empty() || self.unsupported.is_some()
    }
}
