//! What a failed expectation says: the step, and expected beside actual.

use std::fmt::Write as _;

use super::{Fixture, Outcome};
use crate::envelope::CommandEnvelope;
use crate::process_manager::{CommandSet, ProcessManager};
use crate::status::InstanceStatus;

impl<P: ProcessManager> Fixture<P> {
    #[track_caller]
    pub(super) fn expect_status_in(self, statuses: &[InstanceStatus], name: &str) -> Self {
        if !statuses.contains(&self.status) {
            panic!(
                "{}: expected the instance to be {name}, but it is {}{}",
                self.header(),
                self.status,
                match &self.last.outcome {
                    Outcome::Failed(error) => format!(" (the handler failed: {error})"),
                    _ => String::new(),
                }
            );
        }
        self
    }

    pub(super) fn header(&self) -> String {
        format!(
            "`{}` instance `{}`, after {}",
            P::NAME,
            self.id,
            self.last.what
        )
    }

    pub(super) fn outcome_text(&self) -> String {
        match &self.last.outcome {
            Outcome::None => "no step ran".into(),
            Outcome::Handled => "the event was handled".into(),
            Outcome::Ignored(why) => format!("the event was ignored: {why}"),
            Outcome::Refused(why) => format!("the event was refused: {why}"),
            Outcome::Failed(error) => format!("the handler failed: {error}"),
            Outcome::Decided(action) => format!("the decision was `{action}`"),
            Outcome::Fired(n) => format!("{n} timeout(s) fired"),
        }
    }

    pub(super) fn timers_text(&self) -> String {
        if self.timers.is_empty() {
            return "none is pending".into();
        }
        let pending: Vec<String> = self
            .scheduled()
            .iter()
            .map(|(e, wait)| format!("`{}` in {wait:?}", e.event_type))
            .collect();
        format!("the pending ones are {}", pending.join(", "))
    }
}

pub(super) fn expected_parts<C: CommandSet>(command: C) -> (String, serde_json::Value) {
    let parts = command.into_parts();
    (parts.command_type.to_owned(), json_of(&parts.payload))
}

pub(super) fn actual_parts(command: &CommandEnvelope) -> (String, serde_json::Value) {
    (command.command_type.to_string(), json_of(&command.payload))
}

fn json_of(payload: &crate::payload::Payload) -> serde_json::Value {
    payload
        .to_json()
        .map(std::borrow::Cow::into_owned)
        .unwrap_or_else(|error| serde_json::Value::String(format!("<not serialisable: {error}>")))
}

/// Expected beside actual, one command a line, the first difference marked.
pub(super) fn compare(
    expected: &[(String, serde_json::Value)],
    actual: &[(String, serde_json::Value)],
) -> String {
    let mut out = String::new();
    for (title, list, other) in [("expected", expected, actual), ("actual", actual, expected)] {
        let _ = writeln!(out, "  {title} ({}):", list.len());
        if list.is_empty() {
            let _ = writeln!(out, "    (no commands)");
        }
        for (i, (command_type, payload)) in list.iter().enumerate() {
            let mark = if other.get(i) == list.get(i) {
                ' '
            } else {
                '>'
            };
            let _ = writeln!(out, "  {mark} {}. {command_type} {payload}", i + 1);
        }
    }
    out
}
