//! The macros of [pm-runtime]: `#[process_manager]`, `#[derive(Event)]` and
//! `#[derive(Command)]`, and the method attributes `#[process_manager]` reads (`#[start]`,
//! `#[handle]`, `#[stop]`, `#[compensate]`, `#[init]`, `#[on_error]`, `#[upgrade]`).
//!
//! Depend on `pm-runtime`, which re-exports these macros (also from
//! `pm_runtime::prelude`); this crate alone is of no use. The examples below are doc tests
//! run against pm-runtime, a dev-dependency of this crate.
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
/// ```
/// use std::time::Duration;
///
/// use pm_runtime::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// pub struct OrderPlaced { pub order_id: String, pub amount: u64 }
/// #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// pub struct PaymentCharged { pub order_id: String }
/// #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// pub struct ShippingDeadline { pub order_id: String }
/// #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// pub struct SkuWithdrawn { pub orders: Vec<String> }
/// #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// pub struct OrderShipped { pub order_id: String }
///
/// #[derive(Debug, Clone, Serialize, Deserialize, Command)]
/// #[command(aggregate = "payment", id = order_id)]
/// pub struct ChargePayment { pub order_id: String, pub amount: u64 }
/// #[derive(Debug, Clone, Serialize, Deserialize, Command)]
/// #[command(aggregate = "payment", id = order_id)]
/// pub struct RefundPayment { pub order_id: String, pub amount: u64 }
/// #[derive(Debug, Clone, Serialize, Deserialize, Command)]
/// #[command(aggregate = "stock", id = order_id)]
/// pub struct ReserveStock { pub order_id: String }
///
/// #[derive(Debug, Default, Serialize, Deserialize)]
/// pub struct OrderFulfillment { amount: u64, charged: bool, shipped: bool }
///
/// #[process_manager(name = "order_fulfillment", correlate = order_id,
///                   commands(ChargePayment, RefundPayment, ReserveStock))]
/// impl OrderFulfillment {
///     #[start]
///     fn placed(&mut self, e: &OrderPlaced) -> ChargePayment {
///         self.amount = e.amount;
///         ChargePayment { order_id: e.order_id.clone(), amount: e.amount }
///     }
///
///     #[handle]
///     fn charged(&mut self, e: &PaymentCharged, ctx: &mut Context<Self>) -> ReserveStock {
///         self.charged = true;
///         let deadline = Duration::from_secs(3600);
///         ctx.schedule(deadline, ShippingDeadline { order_id: e.order_id.clone() });
///         ReserveStock { order_id: e.order_id.clone() }
///     }
///
///     #[handle]
///     fn too_late(&mut self, _: &ShippingDeadline, ctx: &mut Context<Self>) {
///         if !self.shipped {
///             ctx.stop();
///         }
///     }
///
///     // One event, any number of instances: the ids come from `orders_of`.
///     #[handle(correlate_with = Self::orders_of)]
///     fn sku_withdrawn(&mut self, _: &SkuWithdrawn) -> Vec<OrderFulfillmentCommand> {
///         Vec::new()
///     }
///
///     #[stop]
///     fn shipped(&mut self, _: &OrderShipped, ctx: &mut Context<Self>) {
///         self.shipped = true;
///         ctx.cancel::<ShippingDeadline>();
///     }
///
///     #[compensate(ChargePayment)]
///     fn refund(&mut self, c: &ChargePayment) -> RefundPayment {
///         self.charged = false;
///         RefundPayment { order_id: c.order_id.clone(), amount: c.amount }
///     }
///
///     // No attribute: an ordinary method, here the `correlate_with` function.
///     fn orders_of(e: &SkuWithdrawn, _: &EventMeta<'_>) -> Vec<ProcessId> {
///         e.orders.iter().map(ProcessId::from).collect()
///     }
/// }
///
/// struct Aggregates;
///
/// impl CommandDispatcher for Aggregates {
///     async fn dispatch(&self, command: &CommandEnvelope) -> Result<(), DispatchError> {
///         println!("{} -> {}", command.command_type, command.aggregate_id);
///         Ok(())
///     }
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let runtime = Runtime::builder()
///         .dispatcher(Aggregates)
///         .register::<OrderFulfillment>()
///         .start()
///         .await?;
///     runtime.publish(OrderPlaced { order_id: "o-1".into(), amount: 40 }).await?;
///     let state: OrderFulfillment = runtime.state("o-1").await?;
///     assert_eq!(state.amount, 40);
///     assert_eq!(
///         <OrderFulfillment as ProcessManager>::NAME,
///         "order_fulfillment",
///     );
///     assert!(OrderFulfillment::DIAGRAM.starts_with("flowchart LR"));
///     runtime.shutdown().await?;
///     Ok(())
/// }
/// ```
///
/// # Arguments of `#[process_manager(...)]`
///
/// All optional; an unknown or repeated argument is an error that lists the valid ones.
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
/// - `version = N`: `ProcessManager::VERSION` (default 1), stored with every state. Raise it
///   when the state's shape changes in a way serde does not absorb, and write an `#[upgrade]`.
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
///   without a compensation are skipped. At most one per command.
/// - `#[init]`: `fn(&ProcessId) -> Self`, the state of a new instance. Without it the state
///   starts as `Default::default()`. At most one.
/// - `#[on_error]`: `fn(&mut self, &CommandFailure [, &mut Context<Self>]) ->
///   ErrorAction<<Type>Command>`, what to do about a command that failed (retry, compensate,
///   continue with other commands, skip, park). Without it the runtime's default policy
///   applies. At most one.
/// - `#[upgrade]`: `fn(from_version: u32, state: serde_json::Value) -> Result<Self, E>` with
///   `E: Into<BoxError>`, which reads a state stored under an older `version`. Without it the
///   stored state is deserialised as it is. At most one.
///
/// Outside a `#[process_manager]` impl block these attributes are errors (they are real
/// attribute macros, exported with the prelude, that only report that); inside one,
/// `#[process_manager]` consumes them before rustc would expand them, so
/// `use pm_runtime::prelude::*;` brings them into scope without any conflict.
///
/// # Handler shape
///
/// `fn(&mut self, e: &E)` or `fn(&mut self, e: &E, ctx: &mut Context<Self>)`, synchronous and
/// not generic, where `E` implements `Event`; one handler per event type. The return type is
/// one of: nothing or `()`; one command `C`; `Option<C>`; `Vec<C>`; or `Result<_, E>` of any of
/// those, where `C` is a type in `commands(...)` or the generated `<Type>Command` enum, and
/// `E: Into<BoxError>` (an `Err` leaves the state unchanged and counts as a handler failure).
///
/// Through the context a handler may `ctx.schedule(after, event)` a durable timeout for an
/// event this process manager handles (anything else is a compile error),
/// `ctx.cancel::<E>()` pending ones, and `ctx.stop()` the instance.
///
/// ```
/// # use pm_runtime::prelude::*;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// # pub struct Opened { pub door: u32 }
/// # #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// # pub struct Knocked { pub door: u32, pub times: u8 }
/// # #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// # pub struct Closed { pub door: u32 }
/// # #[derive(Debug, Clone, Serialize, Deserialize, Command)]
/// # #[command(aggregate = "lock", id = door)]
/// # pub struct Lock { pub door: u32 }
/// # #[derive(Debug, Clone, Serialize, Deserialize, Command)]
/// # #[command(aggregate = "lock", id = door)]
/// # pub struct Unlock { pub door: u32 }
/// #[derive(Debug, Serialize, Deserialize)]
/// pub struct Door { id: String, knocks: u32 }
///
/// #[process_manager(correlate = door, commands(Lock, Unlock), missing = "error", version = 2)]
/// impl Door {
///     // Instead of `Default`.
///     #[init]
///     fn new(id: &ProcessId) -> Self {
///         Door { id: id.to_string(), knocks: 0 }
///     }
///
///     // An existing instance for this door makes `publish` fail.
///     #[start(new)]
///     fn opened(&mut self, e: &Opened) -> Option<Lock> {
///         (e.door != 0).then(|| Lock { door: e.door })
///     }
///
///     // An `Err` leaves the state as it was and counts as a handler failure.
///     #[handle]
///     fn knocked(&mut self, e: &Knocked) -> Result<Vec<DoorCommand>, String> {
///         if e.times > 10 {
///             return Err(format!("{} knocks", e.times));
///         }
///         self.knocks += u32::from(e.times);
///         Ok(vec![Unlock { door: e.door }.into()])
///     }
///
///     #[stop(correlate = door)]
///     fn closed(&mut self, _: &Closed) {}
///
///     #[compensate(Lock)]
///     fn unlock(&mut self, c: &Lock, ctx: &mut Context<Self>) -> Unlock {
///         let _why = ctx.failure();
///         Unlock { door: c.door }
///     }
///
///     #[on_error]
///     fn failed(&mut self, failure: &CommandFailure) -> ErrorAction<DoorCommand> {
///         match failure.error {
///             DispatchError::Unavailable(_) if failure.attempt < 3 => ErrorAction::Retry {
///                 after: std::time::Duration::from_millis(100),
///             },
///             _ => ErrorAction::Compensate,
///         }
///     }
///
///     // States stored by version 1 had no `knocks`.
///     #[upgrade]
///     fn upgrade(from_version: u32, state: serde_json::Value) -> Result<Self, String> {
///         let id = state["id"].as_str().ok_or("no id")?.to_owned();
///         match from_version {
///             1 => Ok(Door { id, knocks: 0 }),
///             v => Err(format!("unknown version {v}")),
///         }
///     }
/// }
///
/// # fn main() {
/// assert_eq!(<Door as ProcessManager>::VERSION, 2);
/// let old = serde_json::json!({ "id": "d-1" });
/// let door = <Door as ProcessManager>::upgrade(1, old).unwrap();
/// assert_eq!(door.knocks, 0);
/// # }
/// ```
///
/// # What it generates
///
/// - the impl block itself, without the attributes above;
/// - `pub enum <Type>Command` with one variant per type in `commands(...)`, named after it,
///   and `From<C>` for each;
/// - `impl ProcessManager for <Type>`: the routing table, correlation, dispatch,
///   compensation and (with `#[on_error]`, `version`, `#[upgrade]`) the failure policy and
///   state versioning;
/// - `Handles<E>` for every handled event (which `Context::schedule` requires);
/// - `<Type>::DIAGRAM`, a `&'static str` holding a Mermaid `flowchart LR` of the process
///   manager (in an impl block of its own, so do not define a `DIAGRAM` yourself): a node
///   per handled event labelled with its role (`start`, `start new`, `continue`, `stop`), a
///   node per declared command, an edge from an event to each command its handler's return
///   type names (or to an "any command" note for the command enum), `compensates` edges from
///   a compensation's commands to the command it undoes, the `#[on_error]` handler, and a
///   `schedules` edge for each `ctx.schedule(after, Event { .. })` found in a handler.
///
/// ```
/// # use pm_runtime::prelude::*;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// # pub struct Placed { pub id: String }
/// # #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// # pub struct Shipped { pub id: String }
/// # #[derive(Debug, Clone, Serialize, Deserialize, Command)]
/// # #[command(aggregate = "payment", id = id)]
/// # pub struct Charge { pub id: String }
/// # #[derive(Debug, Clone, Serialize, Deserialize, Command)]
/// # #[command(aggregate = "payment", id = id)]
/// # pub struct Refund { pub id: String }
/// #[derive(Debug, Default, Serialize, Deserialize)]
/// pub struct Order;
///
/// #[process_manager(correlate = id, commands(Charge, Refund))]
/// impl Order {
///     #[start]
///     fn placed(&mut self, e: &Placed) -> Charge { Charge { id: e.id.clone() } }
///     #[stop]
///     fn shipped(&mut self, _: &Shipped) {}
///     #[compensate(Charge)]
///     fn refund(&mut self, c: &Charge) -> Refund { Refund { id: c.id.clone() } }
/// }
///
/// # fn main() {
/// assert_eq!(Order::DIAGRAM, "\
/// flowchart LR
///     %% process manager `order`
///     e0([\"Placed (start)\"])
///     e1([\"Shipped (stop)\"])
///     c0[\"Charge\"]
///     c1[\"Refund\"]
///     e0 --> c0
///     c1 -.->|compensates| c0
/// ");
/// # }
/// ```
///
/// # Compile-time checks
///
/// Each error points at the offending token: a missing `#[start]`; two handlers for one event
/// type, or two event types with one `Event::NAME`; a handler without correlation; a
/// correlation field that does not exist or is not a process id; a parameter that is not an
/// `Event`; a bad receiver, arity, `async`, `const`, `unsafe`, generics or return type; a
/// context other than `&mut Context<Self>`; a returned or compensated command not in
/// `commands(...)`; two compensations for one command; `ctx.schedule` of an event this
/// process manager does not handle; two lifecycle attributes on one method; a malformed or
/// repeated `#[init]`, `#[on_error]` or `#[upgrade]`; unknown or repeated arguments; a state
/// type without `Default` (unless `#[init]`), `Serialize` or `Deserialize`; a method
/// attribute outside a `#[process_manager]` impl block. After an error the impl block is
/// still emitted (without the attributes), so one mistake gives one message.
///
/// ```compile_fail
/// # use pm_runtime::prelude::*;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// # pub struct Paid { pub id: String }
/// #[derive(Debug, Default, Serialize, Deserialize)]
/// pub struct Order;
///
/// // error: process manager `Order` has no `#[start]` handler; ...
/// #[process_manager(correlate = id)]
/// impl Order {
///     #[handle]
///     fn paid(&mut self, _: &Paid) {}
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn process_manager(args: TokenStream, item: TokenStream) -> TokenStream {
    pipeline::process_manager(args.into(), item.into()).into()
}

/// Implements `Event` for a struct or enum.
///
/// ```
/// use pm_runtime::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// pub struct OrderPlaced { pub order_id: String, pub amount: u64 }
///
/// #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// #[event(name = "order.shipped")]
/// pub struct OrderShipped { pub order_id: String }
///
/// assert_eq!(<OrderPlaced as Event>::NAME, "OrderPlaced");
/// assert_eq!(<OrderShipped as Event>::NAME, "order.shipped");
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
/// ```
/// use pm_runtime::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, Command)]
/// #[command(aggregate = "payment", id = order_id)]
/// pub struct ChargePayment { pub order_id: String, pub amount: u64 }
///
/// // A tuple struct names its id field by index.
/// #[derive(Debug, Clone, Serialize, Deserialize, Command)]
/// #[command(aggregate = "stock", id = 0, name = "stock.reserve")]
/// pub struct ReserveStock(pub u64);
///
/// let charge = ChargePayment { order_id: "o-1".into(), amount: 40 };
/// assert_eq!(<ChargePayment as Command>::AGGREGATE, "payment");
/// assert_eq!(charge.aggregate_id(), "o-1");
/// assert_eq!(<ReserveStock as Command>::NAME, "stock.reserve");
/// assert_eq!(ReserveStock(7).aggregate_id(), "7");
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
///
/// `crate = "path"` works the same on all three macros; here with the runtime under another
/// name:
///
/// ```
/// extern crate pm_runtime as runtime;
///
/// use runtime::{Command, Event, process_manager};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// #[event(crate = "::runtime")]
/// pub struct Placed { pub id: String }
///
/// #[derive(Debug, Clone, Serialize, Deserialize, Command)]
/// #[command(aggregate = "payment", id = id, crate = "::runtime")]
/// pub struct Charge { pub id: String }
///
/// #[derive(Debug, Default, Serialize, Deserialize)]
/// pub struct Order;
///
/// #[process_manager(crate = "::runtime", correlate = id, commands(Charge))]
/// impl Order {
///     #[start]
///     fn placed(&mut self, e: &Placed) -> Charge { Charge { id: e.id.clone() } }
/// }
/// # fn main() {
/// assert_eq!(<Order as runtime::ProcessManager>::NAME, "order");
/// # }
/// ```
#[proc_macro_derive(Command, attributes(command))]
pub fn derive_command(item: TokenStream) -> TokenStream {
    derive_command::derive(item.into()).into()
}

/// Declares one helper attribute: its documentation, and an expansion that reports it is
/// outside a `#[process_manager]` impl block (inside one, that macro consumes it first).
macro_rules! helper_attribute {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Only meaningful on a method of a [`macro@process_manager`] impl block, which reads
        /// and removes it; anywhere else it is a compile error:
        ///
        /// ```compile_fail
        /// use pm_runtime::prelude::*;
        ///
        /// pub struct NotASaga;
        ///
        /// impl NotASaga {
        #[doc = concat!("    #[", stringify!($name), "]")]
        ///     pub fn method(&mut self) {}
        /// }
        /// ```
        #[proc_macro_attribute]
        pub fn $name(_args: TokenStream, item: TokenStream) -> TokenStream {
            pipeline::misplaced_helper(stringify!($name), item.into()).into()
        }
    };
}

helper_attribute! {
    /// Marks the handler of an event that starts a process (or continues an existing one);
    /// `#[start(new)]` refuses an existing one. Takes `new`, `correlate = field` and
    /// `correlate_with = path`.
    start
}

helper_attribute! {
    /// Marks the handler of an event that continues a process. Takes `correlate = field` and
    /// `correlate_with = path`.
    handle
}

helper_attribute! {
    /// Marks the handler of an event that completes a process once its commands went out.
    /// Takes `correlate = field` and `correlate_with = path`.
    stop
}

helper_attribute! {
    /// `#[compensate(Cmd)]` marks the undo of a completed `Cmd`: `fn(&mut self, &Cmd [, ctx])`
    /// returning commands.
    compensate
}

helper_attribute! {
    /// Marks `fn(&ProcessId) -> Self`, the state of a new instance (instead of `Default`).
    init
}

helper_attribute! {
    /// Marks `fn(&mut self, &CommandFailure [, ctx]) -> ErrorAction<<Type>Command>`, the
    /// policy for failed commands.
    on_error
}

helper_attribute! {
    /// Marks `fn(from_version: u32, state: serde_json::Value) -> Result<Self, E>`, which reads
    /// a state stored under an older `#[process_manager(version = N)]`.
    upgrade
}
