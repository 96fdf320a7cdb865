//! The output format: one line per measure, `name key=value ...`.

use std::fmt;
use std::time::Duration;

/// One output line.
#[derive(Debug, Clone)]
pub struct Line {
    name: String,
    fields: Vec<(String, String)>,
}

impl Line {
    /// A line for measure `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            fields: Vec::new(),
        }
    }

    /// Adds `key=value`.
    pub fn field(mut self, key: &str, value: impl fmt::Display) -> Self {
        self.fields.push((key.to_owned(), value.to_string()));
        self
    }

    /// Adds a rate or count, rounded to an integer.
    pub fn int(self, key: &str, value: f64) -> Self {
        self.field(key, format!("{value:.0}"))
    }

    /// Adds a value with two decimals (ratios, nanoseconds).
    pub fn dec(self, key: &str, value: f64) -> Self {
        self.field(key, format!("{value:.2}"))
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (key, value) in &self.fields {
            write!(f, " {key}={value}")?;
        }
        Ok(())
    }
}

/// The `q`-quantile (0.0..=1.0) of `samples`, which it sorts; zero when empty.
pub fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let at = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[at.min(samples.len() - 1)]
}

/// The median of `figures` (the upper one of an even count); 0 for none.
pub fn median(figures: &mut [f64]) -> f64 {
    figures.sort_by(f64::total_cmp);
    figures.get(figures.len() / 2).copied().unwrap_or(0.0)
}

/// Microseconds, for latency fields.
pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
