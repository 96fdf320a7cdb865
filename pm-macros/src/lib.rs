//! The macros of [pm-runtime]: `#[process_manager]`, `#[derive(Event)]` and
//! `#[derive(Command)]`.
//!
//! Depend on `pm-runtime`, which re-exports these macros; this crate alone is of no use. The
//! examples below are marked `ignore` because a proc-macro crate cannot depend on the runtime
//! its expansions name; the same code compiles in `pm-runtime`'s tests and examples.
//!
//! Generated code names the runtime only through `::pm_runtime::__private`; when the runtime
//! is reachable under another path (a re-export, a renamed dependency), say so with
//! `crate = "path"` on any of the three macros.
//!
//! Set `PM_MACROS_DEBUG=1` while building to print every expansion, formatted, to stderr.
//!
//! [pm-runtime]: https://docs.rs/pm-runtime

mod attr;
mod ctxt;
mod derive_command;
mod derive_event;
mod expand;
mod model;
mod pipeline;
mod validate;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Turns an `impl` block of a state type into a process manager (saga).
///
/// ```ignore
/// use pm_runtime::prelude::*;
///
/// #[derive(Debug, Default, Serialize, Deserialize)]
/// pub struct OrderFulfillment { charged: bool }
///
/// #[process_manager(name = "order_fulfillment", correlate = order_id,
///                   commands(ChargePayment, RefundPayment, ReserveStock))]
/// impl OrderFulfillment {
///     #[start]
///     fn placed(&mut self, e: &OrderPlaced) -> ChargePayment {
///         ChargePayment { order_id: e.order_id.clone(), amount: e.amount }
///     }
///
///     #[handle]
///     fn charged(&mut self, e: &PaymentCharged, ctx: &mut Context<Self>) -> ReserveStock {
///         self.charged = true;
///         ReserveStock { order_id: e.order_id.clone() }
///     }
///
///     #[handle(correlate_with = Self::orders_of)]
///     fn sku_withdrawn(&mut self, e: &SkuWithdrawn) -> Vec<OrderFulfillmentCommand> {
///         vec![]
///     }
///
///     #[stop]
///     fn shipped(&mut self, _: &OrderShipped) {}
///
///     #[compensate(ChargePayment)]
///     fn refund(&mut self, c: &ChargePayment) -> RefundPayment {
///         RefundPayment { order_id: c.order_id.clone(), amount: c.amount }
///     }
///
///     // No attribute: an ordinary method, here the `correlate_with` function.
///     fn orders_of(e: &SkuWithdrawn, _: &EventMeta<'_>) -> Vec<ProcessId> {
///         e.orders.iter().map(ProcessId::from).collect()
///     }
/// }
/// ```
///
/// # Arguments of `#[process_manager(...)]`
///
/// - `name = "..."`: `ProcessManager::NAME`, part of every store key and command id, so keep
///   it once deployed. Default: the type name in snake_case (`OrderFulfillment` →
///   `"order_fulfillment"`).
/// - `correlate = field`: the event field (a name, or an index for tuple structs) that holds
///   the process id, for every handler without its own `correlate`/`correlate_with`. Its type
///   must implement `ToProcessId` (strings, `Uuid`, integers, `ProcessId`). May be left out
///   when every handler has its own.
/// - `commands(A, B, ...)`: the command types handlers may return. They become the variants of
///   the generated `<Type>Command` enum. May be left out only when no handler returns commands.
/// - `missing = "ignore" | "start" | "error"`: what a `#[handle]`/`#[stop]` event does when
///   its instance does not exist: dropped and counted (the default), starts it, or makes
///   `publish` fail.
/// - `crate = "path"`: where pm-runtime is, default `::pm_runtime`.
///
/// # Method attributes
///
/// Methods without one of these attributes are left alone. A method takes at most one.
///
/// - `#[start]`: the event may create the instance; on an existing instance it continues it.
///   At least one handler must be a start handler.
/// - `#[start(new)]`: the event creates the instance; an existing instance is an error.
/// - `#[handle]`: the event continues an existing instance (see `missing`).
/// - `#[stop]`: the handler runs, its commands go out, then the instance completes.
/// - Each of the four accepts `correlate = field` or `correlate_with = path` (e.g.
///   `#[handle(correlate_with = Self::orders_of)]`, `#[start(new, correlate = id)]`), which
///   override the process manager's `correlate`. `correlate_with` names a
///   `fn(&E, &EventMeta<'_>) -> impl IntoIterator<Item = ProcessId>`: the event reaches every
///   instance it returns (none, one or many).
/// - `#[compensate(Cmd)]`: the undo of a completed `Cmd` (which must be in `commands(...)`),
///   `fn(&mut self, &Cmd [, &mut Context<Self>])`, returning commands like a handler. Commands
///   without a compensation are skipped.
/// - `#[init]`: `fn(&ProcessId) -> Self`, the state of a new instance. Without it the state
///   starts as `Default::default()`.
/// - `#[on_error]`: `fn(&mut self, &CommandFailure [, &mut Context<Self>]) ->
///   ErrorAction<<Type>Command>`, what to do about a command that failed (retry, compensate,
///   continue with other commands, skip, park). Without it the runtime's default policy
///   applies. At most one.
///
/// # Handler shape
///
/// `fn(&mut self, e: &E)` or `fn(&mut self, e: &E, ctx: &mut Context<Self>)`, synchronous and
/// not generic, where `E` implements `Event`; one handler per event type. The return type is
/// one of: nothing or `()`; one command `C`; `Option<C>`; `Vec<C>`; or `Result<_, E>` of any of
/// those, where `C` is a type in `commands(...)` or the generated `<Type>Command` enum, and
/// `E: Into<BoxError>` (an `Err` leaves the state unchanged and counts as a handler failure).
///
/// # What it generates
///
/// - the impl block itself, without the attributes above;
/// - `pub enum <Type>Command` with one variant per type in `commands(...)`, named after it,
///   and `From<C>` for each;
/// - `impl ProcessManager for <Type>`: the routing table, correlation, dispatch,
///   compensation and (with `#[on_error]`) the failure policy;
/// - `Handles<E>` for every handled event (which `Context::schedule` requires).
///
/// # Compile-time checks
///
/// Each error points at the offending token: a missing `#[start]`; two handlers for one event
/// type, or two event types with one `Event::NAME`; a handler without correlation; a
/// correlation field that does not exist or is not a process id; a parameter that is not an
/// `Event`; a bad receiver, arity, `async`, `const`, `unsafe`, generics or return type; a
/// returned or compensated command not in `commands(...)`; two compensations for one command;
/// two lifecycle attributes on one method; a malformed or repeated `#[init]` or `#[on_error]`;
/// unknown or repeated
/// arguments; a state type without `Default` (unless `#[init]`), `Serialize` or
/// `Deserialize`. After an error the impl block is still emitted (without the attributes), so
/// one mistake gives one message.
#[proc_macro_attribute]
pub fn process_manager(args: TokenStream, item: TokenStream) -> TokenStream {
    pipeline::process_manager(args.into(), item.into()).into()
}

/// Implements `Event` for a struct or enum.
///
/// ```ignore
/// #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// #[event(name = "order.placed")]   // optional; default: the type name, "OrderPlaced"
/// pub struct OrderPlaced { pub order_id: String, pub amount: u64 }
/// ```
///
/// Arguments of `#[event(...)]`, all optional:
///
/// - `name = "..."`: `Event::NAME`, which routes envelopes that arrive as JSON, so keep it
///   stable once events are stored. Default: the type's name.
/// - `crate = "path"`: where pm-runtime is, default `::pm_runtime`.
///
/// Derive `Serialize` and `Deserialize` yourself; generic types are not supported.
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(item: TokenStream) -> TokenStream {
    derive_event::derive(item.into()).into()
}

/// Implements `Command` for a struct.
///
/// ```ignore
/// #[derive(Debug, Clone, Serialize, Deserialize, Command)]
/// #[command(aggregate = "payment", id = order_id)]
/// pub struct ChargePayment { pub order_id: String, pub amount: u64 }
/// ```
///
/// Arguments of `#[command(...)]`:
///
/// - `aggregate = "..."` (required): `Command::AGGREGATE`, the type of aggregate that
///   executes the command.
/// - `id = field` (required): the field whose value, through `ToString`, is
///   `Command::aggregate_id` (an index for tuple structs).
/// - `name = "..."`: `Command::NAME`. Default: the type's name.
/// - `crate = "path"`: where pm-runtime is, default `::pm_runtime`.
///
/// Derive `Serialize` and `Deserialize` yourself; generic types are not supported.
#[proc_macro_derive(Command, attributes(command))]
pub fn derive_command(item: TokenStream) -> TokenStream {
    derive_command::derive(item.into()).into()
}
