//! The command line: `pm --db PATH COMMAND [ARGS]`.

use std::path::PathBuf;

/// The usage text, printed by `pm help` and after a usage error.
pub(crate) const USAGE: &str = "\
usage: pm --db PATH COMMAND [ARGS]
       pm --db postgres://USER[:PASSWORD]@HOST[:PORT]/DB [--schema NAME] COMMAND [ARGS]

Inspects the process managers in a pm-runtime store: a SQLite file, or a PostgreSQL database
(schema `public` unless --schema names another). Over PostgreSQL the inspector takes no
partition lease and creates nothing: live runtime nodes do not see it.

commands:
  pms                      process manager types: version, instances by status, events
  list PM [--status S]     instances of PM with status, revision and outbox size
  show PM ID [--json]      one instance: state as JSON, handled events, outbox, completed
                           commands, timers, dead letter, stash
  outbox [PM]              commands waiting to be sent
  parked                   parked instances and why
  retry PM ID              resume a parked instance by trying its cause again
  skip PM ID               resume a parked instance by dropping its cause
  diagram PM               the process manager's Mermaid flowchart
  help                     this text

retry and skip are for an instance no runtime is running: a running runtime holds the instance
in memory, so use Runtime::retry_parked / skip_parked there.

exit codes: 0 done, 1 the request failed (unknown instance, not parked, ...),
            2 bad usage or a database that cannot be opened";

/// Where the store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Database {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Pms,
    List { pm: String, status: Option<String> },
    Show { pm: String, id: String, json: bool },
    Outbox { pm: Option<String> },
    Parked,
    Retry { pm: String, id: String },
    Skip { pm: String, id: String },
    Diagram { pm: String },
    Help,
}

/// Everything the command line said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Args {
    pub(crate) db: Option<Database>,
    /// The PostgreSQL schema (`--schema`), `public` when not given.
    pub(crate) schema: String,
    pub(crate) command: Command,
}

impl Args {
    /// Parses the arguments after the program name; the error is a usage message.
    pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut db = None;
        let mut schema = None;
        let mut status = None;
        let mut json = false;
        let mut words = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value)),
                _ => (arg.clone(), None),
            };
            let mut value = |name: &str| match inline {
                Some(value) => Ok(value.to_owned()),
                None => args.next().ok_or_else(|| format!("`{name}` needs a value")),
            };
            match flag.as_str() {
                "--db" => db = Some(database(&value("--db")?)?),
                "--schema" => schema = Some(value("--schema")?),
                "--status" => status = Some(value("--status")?),
                "--json" => json = true,
                "-h" | "--help" => words.insert(0, "help".to_owned()),
                other if other.starts_with('-') => {
                    return Err(format!("unknown option `{other}`"));
                }
                _ => words.push(arg),
            }
        }
        let command = command(&words, status, json)?;
        if db.is_none() && command != Command::Help {
            return Err("`--db PATH` is required".into());
        }
        if schema.is_some() && !matches!(db, Some(Database::Postgres(_))) {
            return Err("`--schema` goes with a PostgreSQL `--db` URL".into());
        }
        Ok(Self {
            db,
            schema: schema.unwrap_or_else(|| "public".to_owned()),
            command,
        })
    }
}

fn database(value: &str) -> Result<Database, String> {
    if value.is_empty() {
        return Err("`--db` needs a path".into());
    }
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        return Ok(Database::Postgres(value.to_owned()));
    }
    let path = value.strip_prefix("sqlite://").unwrap_or(value);
    Ok(Database::Sqlite(PathBuf::from(path)))
}

fn command(words: &[String], status: Option<String>, json: bool) -> Result<Command, String> {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let (name, rest) = match words.split_first() {
        Some((name, rest)) => (*name, rest),
        None => return Err("a command is needed".into()),
    };
    let expect = |n: usize, what: &str| {
        if rest.len() == n {
            Ok(())
        } else {
            Err(format!("`{name}` takes {what}"))
        }
    };
    if status.is_some() && name != "list" {
        return Err("`--status` goes with `list`".into());
    }
    if json && name != "show" {
        return Err("`--json` goes with `show`".into());
    }
    let pm_id = || (rest[0].to_owned(), rest[1].to_owned());
    Ok(match name {
        "pms" => {
            expect(0, "no arguments")?;
            Command::Pms
        }
        "list" => {
            expect(1, "a process manager name")?;
            Command::List {
                pm: rest[0].to_owned(),
                status,
            }
        }
        "show" => {
            expect(2, "a process manager name and a process id")?;
            let (pm, id) = pm_id();
            Command::Show { pm, id, json }
        }
        "outbox" => {
            if rest.len() > 1 {
                return Err("`outbox` takes at most a process manager name".into());
            }
            Command::Outbox {
                pm: rest.first().map(|s| (*s).to_owned()),
            }
        }
        "parked" => {
            expect(0, "no arguments")?;
            Command::Parked
        }
        "retry" | "skip" => {
            expect(2, "a process manager name and a process id")?;
            let (pm, id) = pm_id();
            if name == "retry" {
                Command::Retry { pm, id }
            } else {
                Command::Skip { pm, id }
            }
        }
        "diagram" => {
            expect(1, "a process manager name")?;
            Command::Diagram {
                pm: rest[0].to_owned(),
            }
        }
        "help" => Command::Help,
        other => {
            return Err(format!(
                "unknown command `{other}`; expected one of `pms`, `list`, `show`, `outbox`, \
                 `parked`, `retry`, `skip`, `diagram`, `help`"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(line: &str) -> Result<Args, String> {
        Args::parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn commands_and_options_parse_in_any_order() {
        let args = parse("list order --db x.db --status parked").unwrap();
        assert_eq!(args.db, Some(Database::Sqlite("x.db".into())));
        assert_eq!(
            args.command,
            Command::List {
                pm: "order".into(),
                status: Some("parked".into())
            }
        );
        let args = parse("--db=sqlite://y.db show order o-1 --json").unwrap();
        assert_eq!(args.db, Some(Database::Sqlite("y.db".into())));
        assert!(matches!(args.command, Command::Show { json: true, .. }));
        let args = parse("--db postgres://u@h/db pms").unwrap();
        assert!(matches!(args.db, Some(Database::Postgres(_))));
        assert_eq!(args.schema, "public");
        let args = parse("pms --schema=sagas --db postgresql://u@h/db").unwrap();
        assert_eq!(args.schema, "sagas");
        assert!(parse("--db x.db --schema sagas pms").is_err());
        assert_eq!(parse("--help").unwrap().command, Command::Help);
    }

    #[test]
    fn mistakes_are_named() {
        assert!(parse("pms").unwrap_err().contains("--db PATH"));
        assert!(
            parse("--db x bogus")
                .unwrap_err()
                .contains("unknown command `bogus`")
        );
        assert!(
            parse("--db x show order")
                .unwrap_err()
                .contains("`show` takes")
        );
        assert!(parse("--db x --frob pms").unwrap_err().contains("`--frob`"));
        assert!(
            parse("--db x pms --status parked")
                .unwrap_err()
                .contains("`list`")
        );
        assert!(parse("--db").unwrap_err().contains("needs a value"));
    }
}
