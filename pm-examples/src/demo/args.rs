//! Command-line arguments of `pm-demo`.

use std::path::PathBuf;
use std::time::Duration;

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
    /// Run on this PostgreSQL database instead of the SQLite file (`--postgres URL`).
    pub postgres: Option<String>,
    /// The PostgreSQL schema (`--schema`, default `public`).
    pub schema: String,
    /// This node's id (`--node`, default random).
    pub node: Option<String>,
    /// The lease ttl (`--lease-ttl-ms`); the heartbeat is a quarter of it.
    pub lease_ttl: Option<Duration>,
    /// After the run, time raw batched inserts of as many rows (`--raw-baseline`).
    pub raw_baseline: bool,
}

/// The usage text.
pub const USAGE: &str = "usage: pm-demo (--db PATH | --postgres URL [--schema NAME] [--node ID] \
     [--lease-ttl-ms MS] [--raw-baseline]) [--sagas N] [--reject-rate R] \
     [--synchronous full|normal] [--quiet]";

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
            postgres: None,
            schema: "public".into(),
            node: None,
            lease_ttl: None,
            raw_baseline: false,
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
                "--postgres" => parsed.postgres = Some(value("--postgres")?),
                "--schema" => parsed.schema = value("--schema")?,
                "--node" => parsed.node = Some(value("--node")?),
                "--lease-ttl-ms" => {
                    let v = value("--lease-ttl-ms")?;
                    let ms = v
                        .parse::<u64>()
                        .ok()
                        .filter(|ms| *ms >= 100)
                        .ok_or_else(|| format!("`--lease-ttl-ms {v}`: expected at least 100"))?;
                    parsed.lease_ttl = Some(Duration::from_millis(ms));
                }
                "--raw-baseline" => parsed.raw_baseline = true,
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        match (db, &parsed.postgres) {
            (Some(_), Some(_)) => {
                return Err("give `--db PATH` or `--postgres URL`, not both".into());
            }
            (Some(db), None) => parsed.db = db,
            (None, Some(_)) => {}
            (None, None) => return Err("`--db PATH` or `--postgres URL` is required".into()),
        }
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
        let pg =
            parse("--postgres postgres://u@h/db --schema s --node n1 --lease-ttl-ms 2000").unwrap();
        assert_eq!(pg.postgres.as_deref(), Some("postgres://u@h/db"));
        assert_eq!((pg.schema.as_str(), pg.node.as_deref()), ("s", Some("n1")));
        assert_eq!(pg.lease_ttl, Some(Duration::from_millis(2000)));
        assert!(
            parse("--db x --postgres y")
                .unwrap_err()
                .contains("not both")
        );
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
