//! Command-line arguments of `pm-demo`.

use std::path::PathBuf;

/// What `pm-demo` was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// The SQLite file holding the sagas and the demo's world.
    pub db: PathBuf,
    /// Sagas to have in total (across runs on the same file).
    pub sagas: i64,
    /// Share of orders whose stock is refused (0.0 to 1.0).
    pub reject_rate: f64,
    /// `synchronous = NORMAL` instead of `FULL`.
    pub normal_sync: bool,
    /// No progress bar.
    pub quiet: bool,
}

/// The usage text.
pub const USAGE: &str =
    "usage: pm-demo --db PATH [--sagas N] [--reject-rate R] [--synchronous full|normal] [--quiet]";

impl Args {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut db = None;
        let mut parsed = Self {
            db: PathBuf::new(),
            sagas: 1_000,
            reject_rate: 0.1,
            normal_sync: false,
            quiet: false,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().ok_or_else(|| format!("`{name}` needs a value"));
            match arg.as_str() {
                "--db" => db = Some(PathBuf::from(value("--db")?)),
                "--sagas" => {
                    let v = value("--sagas")?;
                    parsed.sagas = v
                        .parse::<u32>()
                        .map_err(|_| format!("`--sagas {v}`: expected a whole number"))?
                        .into();
                }
                "--reject-rate" => {
                    let v = value("--reject-rate")?;
                    parsed.reject_rate = v
                        .parse::<f64>()
                        .ok()
                        .filter(|r| (0.0..=1.0).contains(r))
                        .ok_or_else(|| {
                            format!("`--reject-rate {v}`: expected a number from 0 to 1")
                        })?;
                }
                "--synchronous" => match value("--synchronous")?.as_str() {
                    "full" => parsed.normal_sync = false,
                    "normal" => parsed.normal_sync = true,
                    other => {
                        return Err(format!(
                            "`--synchronous {other}`: expected `full` or `normal`"
                        ));
                    }
                },
                "--quiet" => parsed.quiet = true,
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        parsed.db = db.ok_or("`--db PATH` is required")?;
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, String> {
        Args::parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn parses_every_flag_and_names_what_is_wrong() {
        let args =
            parse("--db x.db --sagas 10 --reject-rate 0.5 --synchronous normal --quiet").unwrap();
        assert_eq!(
            (args.sagas, args.reject_rate, args.normal_sync, args.quiet),
            (10, 0.5, true, true)
        );
        assert!(parse("--sagas 10").unwrap_err().contains("--db"));
        assert!(
            parse("--db x --reject-rate 2")
                .unwrap_err()
                .contains("0 to 1")
        );
        assert!(
            parse("--db x --sagas -1")
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            parse("--db x --frobnicate")
                .unwrap_err()
                .contains("`--frobnicate`")
        );
    }
}
