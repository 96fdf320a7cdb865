//! `<Type>::DIAGRAM`: a Mermaid flowchart of a process manager, built from its declarations
//! (and, for timeouts, from the `ctx.schedule(..)` calls in the handler bodies).
//!
//! Node ids are positional (`e0` for the first handler's event, `c0` for the first command
//! in `commands(...)`), so type names never collide with each other or with Mermaid's
//! keywords, and the text only changes when the declarations do.

use std::fmt::Write as _;

use syn::visit::Visit;
use syn::{Expr, ExprMethodCall, GenericArgument, ImplItemFn, Path, Type};

use crate::attr::Role;
use crate::model::{Model, Returns, type_string};

/// The id of the note that stands for "any command of the enum".
const ANY: &str = "any";

/// Where a handler's return value can go, read from its type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The declared command at this index in `commands(...)`.
    Command(usize),
    /// The generated command enum: any declared command.
    Any,
}

impl Target {
    fn id(self) -> String {
        match self {
            Self::Command(i) => format!("c{i}"),
            Self::Any => ANY.to_owned(),
        }
    }
}

/// The flowchart text.
pub(crate) fn diagram(model: &Model<'_>) -> String {
    let mut lines = vec![format!("%% process manager `{}`", model.name)];
    for (i, handler) in model.handlers.iter().enumerate() {
        let label = format!("{} ({})", type_string(handler.event), role(handler.role));
        lines.push(format!("e{i}([\"{}\"])", escape(&label)));
    }
    for (i, command) in model.args.commands.iter().enumerate() {
        lines.push(format!("c{i}[\"{}\"]", escape(&type_string(command))));
    }
    let handler_targets: Vec<Vec<Target>> = model
        .handlers
        .iter()
        .map(|h| targets(model, &h.returns))
        .collect();
    let compensator_targets: Vec<Vec<Target>> = model
        .compensators
        .iter()
        .map(|c| targets(model, &c.returns))
        .collect();
    if handler_targets
        .iter()
        .chain(&compensator_targets)
        .flatten()
        .any(|t| *t == Target::Any)
    {
        lines.push(format!("{ANY}[/\"any command\"/]"));
    }
    if let Some(on_error) = model.on_errors.first() {
        let label = format!("on_error: {}", on_error.method.sig.ident);
        lines.push(format!("on_error{{{{\"{}\"}}}}", escape(&label)));
    }
    for (i, targets) in handler_targets.iter().enumerate() {
        for target in targets {
            lines.push(format!("e{i} --> {}", target.id()));
        }
    }
    for (compensator, targets) in model.compensators.iter().zip(&compensator_targets) {
        let Some(undone) = command_index(model, &compensator.command) else {
            continue;
        };
        if targets.is_empty() {
            lines.push(format!(
                "%% `{}` is compensated by `{}`, which sends no command",
                type_string(&compensator.command),
                compensator.method.sig.ident
            ));
        }
        for target in targets {
            lines.push(format!("{} -.->|compensates| c{undone}", target.id()));
        }
    }
    let sources = model
        .handlers
        .iter()
        .enumerate()
        .map(|(i, h)| (format!("e{i}"), h.method));
    let compensations = model
        .compensators
        .iter()
        .filter_map(|c| command_index(model, &c.command).map(|i| (format!("c{i}"), c.method)));
    for (source, method) in sources.chain(compensations) {
        for scheduled in scheduled_events(model, method) {
            lines.push(format!("{source} -.->|schedules| e{scheduled}"));
        }
    }
    let mut out = String::from("flowchart LR\n");
    for line in lines {
        let _ = writeln!(out, "    {line}");
    }
    out
}

fn role(role: Role) -> &'static str {
    match role {
        Role::Start => "start",
        Role::StartNew => "start new",
        Role::Continue => "continue",
        Role::Stop => "stop",
    }
}

/// Mermaid reads `"` as the end of a label and `<`/`>` as markup.
fn escape(label: &str) -> String {
    label
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// The index in `commands(...)` of a command named by `path` (compared by its last segment,
/// as the enum's variants are).
fn command_index(model: &Model<'_>, path: &Path) -> Option<usize> {
    let last = &path.segments.last()?.ident;
    model
        .args
        .commands
        .iter()
        .position(|c| c.segments.last().is_some_and(|s| s.ident == *last))
}

/// The commands a return type names: a declared command, or the enum (any of them).
fn targets(model: &Model<'_>, returns: &Returns<'_>) -> Vec<Target> {
    let mut targets = Vec::new();
    for ty in returns.command_types() {
        let Type::Path(path) = ty else { continue };
        let target = if path.path.is_ident(&model.command_enum) {
            Some(Target::Any)
        } else {
            command_index(model, &path.path).map(Target::Command)
        };
        if let Some(target) = target.filter(|t| !targets.contains(t)) {
            targets.push(target);
        }
    }
    targets
}

/// The handlers (by index) whose events `method` schedules with `ctx.schedule(..)`, in the
/// order of the calls, without repeats.
fn scheduled_events(model: &Model<'_>, method: &ImplItemFn) -> Vec<usize> {
    let mut finder = ScheduleCalls::default();
    finder.visit_block(&method.block);
    let mut found = Vec::new();
    for path in finder.events {
        let written = type_string(&path);
        let last = path.segments.last().map(|s| &s.ident);
        let exact = model
            .handlers
            .iter()
            .position(|h| type_string(h.event) == written);
        let by_name = || {
            model.handlers.iter().position(|h| match h.event {
                Type::Path(p) => p.path.segments.last().map(|s| &s.ident) == last,
                _ => false,
            })
        };
        if let Some(index) = exact.or_else(by_name)
            && !found.contains(&index)
        {
            found.push(index);
        }
    }
    found
}

/// The event types of `<receiver>.schedule(after, event)` calls, when the call names them:
/// `schedule::<E>(..)`, `E { .. }`, `E(..)`, `E::new(..)` or a unit struct `E`.
#[derive(Default)]
struct ScheduleCalls {
    events: Vec<Path>,
}

impl<'ast> Visit<'ast> for ScheduleCalls {
    fn visit_expr_method_call(&mut self, call: &'ast ExprMethodCall) {
        if call.method == "schedule" && call.args.len() == 2 {
            let turbofish = call.turbofish.as_ref().and_then(|t| match t.args.first() {
                Some(GenericArgument::Type(Type::Path(p))) if p.qself.is_none() => {
                    Some(p.path.clone())
                }
                _ => None,
            });
            if let Some(path) = turbofish.or_else(|| call.args.last().and_then(event_path)) {
                self.events.push(path);
            }
        }
        syn::visit::visit_expr_method_call(self, call);
    }
}

fn event_path(expr: &Expr) -> Option<Path> {
    let starts_upper = |path: &Path| {
        path.segments
            .last()
            .is_some_and(|s| s.ident.to_string().starts_with(|c: char| c.is_uppercase()))
    };
    match expr {
        Expr::Struct(e) => Some(e.path.clone()),
        Expr::Path(e) if e.qself.is_none() && starts_upper(&e.path) => Some(e.path.clone()),
        Expr::Call(call) => match &*call.func {
            Expr::Path(f) if f.qself.is_none() => {
                let mut path = f.path.clone();
                if !starts_upper(&path) {
                    // `E::new(..)`: the type is the path without its last segment.
                    path.segments.pop();
                    path.segments.pop_punct();
                }
                (!path.segments.is_empty() && starts_upper(&path)).then_some(path)
            }
            _ => None,
        },
        Expr::Paren(e) => event_path(&e.expr),
        _ => None,
    }
}
