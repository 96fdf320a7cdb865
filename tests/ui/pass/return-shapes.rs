//! Every return shape a handler or compensation may have.
use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

macro_rules! events {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Serialize, Deserialize, Event)]
        pub struct $name { pub id: String }
    )*};
}
events!(E1, E2, E3, E4, E5, E6, E7, E8, E9, E10, E11, E12, E13);

#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "a", id = id)]
pub struct Ping {
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "b", id = id)]
pub struct Pong {
    pub id: String,
}

pub mod commands {
    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize, Command)]
    #[command(aggregate = "c", id = id)]
    pub struct Undo {
        pub id: String,
    }
}

#[derive(Debug)]
pub struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

impl std::error::Error for Refused {}

/// A one-argument `Result` alias is read as a `Result`.
pub mod outcome {
    pub type Result<T> = std::result::Result<T, super::Refused>;
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Shapes;

fn ping(id: &str) -> Ping {
    Ping { id: id.to_owned() }
}

#[process_manager(correlate = id, commands(Ping, Pong, commands::Undo))]
impl Shapes {
    #[start]
    fn nothing(&mut self, _: &E1) {}

    #[handle]
    fn unit(&mut self, _: &E2) -> () {}

    #[handle]
    fn one(&mut self, e: &E3) -> Ping {
        ping(&e.id)
    }

    #[handle]
    fn option(&mut self, e: &E4) -> Option<Pong> {
        Some(Pong { id: e.id.clone() })
    }

    #[handle]
    fn vec_of_one_type(&mut self, e: &E5) -> Vec<Ping> {
        vec![ping(&e.id), ping(&e.id)]
    }

    #[handle]
    fn vec_of_the_enum(&mut self, e: &E6) -> Vec<ShapesCommand> {
        vec![ping(&e.id).into(), Pong { id: e.id.clone() }.into()]
    }

    #[handle]
    fn the_enum(&mut self, e: &E7) -> ShapesCommand {
        ShapesCommand::Ping(ping(&e.id))
    }

    #[handle]
    fn option_of_the_enum(&mut self, _: &E8) -> Option<ShapesCommand> {
        None
    }

    #[handle]
    fn result_of_nothing(&mut self, _: &E9) -> Result<(), String> {
        Ok(())
    }

    #[handle]
    fn result_of_one(&mut self, e: &E10) -> Result<Ping, Refused> {
        Ok(ping(&e.id))
    }

    #[handle]
    fn result_of_option(
        &mut self,
        _: &E11,
    ) -> Result<Option<commands::Undo>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(None)
    }

    #[handle]
    fn result_of_vec(&mut self, e: &E12) -> Result<Vec<ShapesCommand>, &'static str> {
        Ok(vec![ping(&e.id).into()])
    }

    #[stop]
    fn alias_of_result(&mut self, e: &E13) -> outcome::Result<Vec<Pong>> {
        Ok(vec![Pong { id: e.id.clone() }])
    }

    #[compensate(Ping)]
    fn undo_ping(&mut self, c: &Ping) -> commands::Undo {
        commands::Undo { id: c.id.clone() }
    }

    #[compensate(Pong)]
    fn undo_pong(&mut self, _: &Pong) -> Result<Vec<ShapesCommand>, Refused> {
        Ok(Vec::new())
    }

    #[compensate(commands::Undo)]
    fn undo_undo(&mut self, _: &commands::Undo) {}
}

fn main() {
    assert_eq!(<Shapes as ProcessManager>::EVENTS.len(), 13);
}
