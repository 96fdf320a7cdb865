//! Attribute syntax: the names of every attribute and argument, and their parsing with
//! `parse_nested_meta`. Nothing here knows about other attributes or the impl block as a whole.

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Attribute, ExprPath, ImplItem, ItemImpl, LitInt, LitStr, Member, Meta, Path, Token};

use crate::ctxt::Ctxt;

pub(crate) const PROCESS_MANAGER: &str = "process_manager";
pub(crate) const START: &str = "start";
pub(crate) const HANDLE: &str = "handle";
pub(crate) const STOP: &str = "stop";
pub(crate) const COMPENSATE: &str = "compensate";
pub(crate) const INIT: &str = "init";
pub(crate) const ON_ERROR: &str = "on_error";
pub(crate) const UPGRADE: &str = "upgrade";
pub(crate) const EVENT: &str = "event";
pub(crate) const COMMAND: &str = "command";

/// The attributes `#[process_manager]` consumes from the methods of its impl block.
pub(crate) const HELPERS: &[&str] = &[START, HANDLE, STOP, COMPENSATE, INIT, ON_ERROR, UPGRADE];

pub(crate) const NAME: &str = "name";
pub(crate) const CORRELATE: &str = "correlate";
pub(crate) const CORRELATE_WITH: &str = "correlate_with";
pub(crate) const COMMANDS: &str = "commands";
pub(crate) const MISSING: &str = "missing";
pub(crate) const CRATE: &str = "crate";
pub(crate) const VERSION: &str = "version";
pub(crate) const NEW: &str = "new";
pub(crate) const AGGREGATE: &str = "aggregate";
pub(crate) const ID: &str = "id";

const PM_ARGS: &[&str] = &[NAME, CORRELATE, COMMANDS, MISSING, VERSION, CRATE];
const START_ARGS: &[&str] = &[NEW, CORRELATE, CORRELATE_WITH];
const HANDLE_ARGS: &[&str] = &[CORRELATE, CORRELATE_WITH];
const EVENT_ARGS: &[&str] = &[NAME, CRATE];
const COMMAND_ARGS: &[&str] = &[AGGREGATE, ID, NAME, CRATE];
const MISSING_VALUES: &[&str] = &["ignore", "start", "error"];

/// What a handler does to the lifecycle of its instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Start,
    StartNew,
    Continue,
    Stop,
}

/// `#[process_manager(missing = "...")]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Missing {
    #[default]
    Ignore,
    Start,
    Error,
}

/// How a handler's event finds its instance.
#[derive(Clone)]
pub(crate) enum Correlate {
    /// `correlate = field`.
    Field(Member),
    /// `correlate_with = path`.
    With(ExprPath),
}

/// The arguments of `#[process_manager(...)]`.
pub(crate) struct PmArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) correlate: Option<Member>,
    pub(crate) commands: Vec<Path>,
    pub(crate) missing: Missing,
    /// `version = N`: `ProcessManager::VERSION`, when given.
    pub(crate) version: Option<LitInt>,
    pub(crate) krate: Path,
    /// Arguments whose value was reported as malformed.
    pub(crate) broken: Vec<&'static str>,
    /// Whether an unknown argument (perhaps a misspelt known one) was reported.
    pub(crate) unknown: bool,
}

impl PmArgs {
    /// Whether an absent or partial `arg` may be the fault of an error already reported, so
    /// rules about it would only add secondary errors.
    pub(crate) fn unreliable(&self, arg: &str) -> bool {
        self.unknown || self.broken.contains(&arg)
    }
}

/// One lifecycle attribute on a method.
pub(crate) enum Lifecycle {
    Handler {
        role: Role,
        correlate: Option<Correlate>,
    },
    Compensate(Path),
    Init,
    OnError,
    Upgrade,
}

/// The arguments of `#[event(...)]`.
pub(crate) struct EventArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) krate: Path,
}

/// The arguments of `#[command(...)]`.
pub(crate) struct CommandArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) aggregate: Option<LitStr>,
    pub(crate) id: Option<Member>,
    pub(crate) krate: Path,
}

fn default_crate() -> Path {
    syn::parse_quote!(::pm_runtime)
}

/// Tracks the arguments of one attribute: rejects unknown and repeated ones with a message
/// that lists the valid ones, and skips their value so parsing can go on.
struct Args {
    attr: &'static str,
    allowed: &'static [&'static str],
    seen: Vec<&'static str>,
    unknown: bool,
}

impl Args {
    fn new(attr: &'static str, allowed: &'static [&'static str]) -> Self {
        Self {
            attr,
            allowed,
            seen: Vec::new(),
            unknown: false,
        }
    }

    /// The argument's canonical name, or `None` after recording why it is not accepted.
    fn accept(
        &mut self,
        cx: &Ctxt,
        meta: &ParseNestedMeta<'_>,
    ) -> syn::Result<Option<&'static str>> {
        let known = self.allowed.iter().find(|a| meta.path.is_ident(a)).copied();
        let problem = match known {
            None => {
                self.unknown = true;
                format!(
                    "unknown `{}` argument `{}`; expected one of {}",
                    self.attr,
                    path_string(&meta.path),
                    one_of(self.allowed)
                )
            }
            Some(arg) if self.seen.contains(&arg) => {
                format!("duplicate `{}` argument `{arg}`", self.attr)
            }
            Some(arg) => {
                self.seen.push(arg);
                return Ok(Some(arg));
            }
        };
        cx.error_spanned_by(&meta.path, problem);
        skip_value(meta)?;
        Ok(None)
    }
}

/// Renders `["a", "b"]` as `` `a`, `b` ``.
pub(crate) fn one_of(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn path_string(path: &Path) -> String {
    quote::quote!(#path).to_string().replace(' ', "")
}

fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.input.parse::<Token![=]>()?;
        meta.input.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<proc_macro2::Group>()?;
    }
    Ok(())
}

fn parse_name(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    let lit: LitStr = meta.value()?.parse()?;
    if lit.value().is_empty() {
        return Err(syn::Error::new_spanned(&lit, "`name` cannot be empty"));
    }
    Ok(lit)
}

fn parse_crate(meta: &ParseNestedMeta<'_>) -> syn::Result<Path> {
    let lit: LitStr = meta.value()?.parse()?;
    lit.parse_with(Path::parse_mod_style).map_err(|_| {
        syn::Error::new_spanned(
            &lit,
            "`crate` takes a path to pm-runtime, e.g. `crate = \"::pm_runtime\"`",
        )
    })
}

/// `correlate = field` (or `id = field`): a field name or tuple index, not a string.
fn parse_field(meta: &ParseNestedMeta<'_>, arg: &str) -> syn::Result<Member> {
    let input = meta.value()?;
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let message = format!(
            "`{arg}` takes a field name, not a string: `{arg} = {}`",
            lit.value()
        );
        return Err(syn::Error::new_spanned(lit, message));
    }
    input.parse()
}

/// Records a parse failure of one attribute (its remaining arguments are not read).
fn record(cx: &Ctxt, result: syn::Result<()>) {
    if let Err(error) = result {
        cx.syn_error(error);
    }
}

/// Parses `#[process_manager(...)]`; unusable arguments are reported and left at their default.
pub(crate) fn pm_args(cx: &Ctxt, tokens: TokenStream) -> PmArgs {
    let mut args = PmArgs {
        name: None,
        correlate: None,
        commands: Vec::new(),
        missing: Missing::default(),
        version: None,
        krate: default_crate(),
        broken: Vec::new(),
        unknown: false,
    };
    let mut seen = Args::new(PROCESS_MANAGER, PM_ARGS);
    let mut current = None;
    let parser = syn::meta::parser(|meta| {
        current = seen.accept(cx, &meta)?;
        match current {
            Some(NAME) => args.name = Some(parse_name(&meta)?),
            Some(CORRELATE) => args.correlate = Some(parse_field(&meta, CORRELATE)?),
            Some(COMMANDS) => args.commands = parse_commands(cx, &meta)?,
            Some(MISSING) => args.missing = parse_missing(&meta)?,
            Some(VERSION) => args.version = Some(parse_version(&meta)?),
            Some(CRATE) => args.krate = parse_crate(&meta)?,
            _ => {}
        }
        Ok(())
    });
    let result = parser.parse2(tokens);
    if result.is_err() {
        args.broken.extend(current);
    }
    record(cx, result);
    args.unknown = seen.unknown;
    args
}

fn parse_commands(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<Path>> {
    let content;
    syn::parenthesized!(content in meta.input);
    let paths = content.parse_terminated(Path::parse_mod_style, Token![,])?;
    let mut commands: Vec<Path> = Vec::new();
    for path in paths {
        // Variants of the command enum are named after the last segment.
        let last = path.segments.last().map(|s| &s.ident);
        if commands
            .iter()
            .any(|c| c.segments.last().map(|s| &s.ident) == last)
        {
            cx.error_spanned_by(
                &path,
                format!("`{}` is already in `commands(...)`", path_string(&path)),
            );
        } else {
            commands.push(path);
        }
    }
    Ok(commands)
}

/// `version = N`, a `u32` from 1: stored states carry it, and 0 is what "no version" would
/// look like.
fn parse_version(meta: &ParseNestedMeta<'_>) -> syn::Result<LitInt> {
    let lit: LitInt = meta.value()?.parse().map_err(|error| {
        syn::Error::new(
            error.span(),
            "`version` takes an integer, e.g. `version = 2`",
        )
    })?;
    match lit.base10_parse::<u32>() {
        Ok(0) | Err(_) => Err(syn::Error::new_spanned(
            &lit,
            "`version` is a `u32` starting at 1, e.g. `version = 2`",
        )),
        Ok(_) => Ok(lit),
    }
}

fn parse_missing(meta: &ParseNestedMeta<'_>) -> syn::Result<Missing> {
    let lit: LitStr = meta.value()?.parse()?;
    match lit.value().as_str() {
        "ignore" => Ok(Missing::Ignore),
        "start" => Ok(Missing::Start),
        "error" => Ok(Missing::Error),
        other => Err(syn::Error::new_spanned(
            &lit,
            format!(
                "unknown `missing` policy `{other}`; expected one of {}",
                one_of(MISSING_VALUES)
            ),
        )),
    }
}

/// Whether `attr` is one of the helper attributes of `#[process_manager]`.
pub(crate) fn is_helper(attr: &Attribute) -> bool {
    HELPERS.iter().any(|h| attr.path().is_ident(h))
}

/// The helper's name, as written in [`HELPERS`].
pub(crate) fn helper_name(attr: &Attribute) -> &'static str {
    HELPERS
        .iter()
        .copied()
        .find(|h| attr.path().is_ident(h))
        .unwrap_or(START)
}

/// The impl block without the helper attributes, which are not real attributes to rustc.
pub(crate) fn strip_helpers(item: &ItemImpl) -> ItemImpl {
    let mut item = item.clone();
    for impl_item in &mut item.items {
        let attrs = match impl_item {
            ImplItem::Fn(f) => &mut f.attrs,
            ImplItem::Const(c) => &mut c.attrs,
            ImplItem::Type(t) => &mut t.attrs,
            ImplItem::Macro(m) => &mut m.attrs,
            _ => continue,
        };
        attrs.retain(|a| !is_helper(a));
    }
    item
}

/// Parses one helper attribute; `None` when it cannot be understood at all (already reported).
pub(crate) fn lifecycle(cx: &Ctxt, attr: &Attribute) -> Option<Lifecycle> {
    let name = helper_name(attr);
    match name {
        COMPENSATE => compensate(cx, attr),
        INIT | ON_ERROR | UPGRADE => {
            if !matches!(attr.meta, Meta::Path(_)) {
                cx.error_spanned_by(
                    attr,
                    format!("`{name}` takes no arguments; write `#[{name}]`"),
                );
            }
            Some(match name {
                INIT => Lifecycle::Init,
                ON_ERROR => Lifecycle::OnError,
                _ => Lifecycle::Upgrade,
            })
        }
        _ => handler(cx, attr, name),
    }
}

fn compensate(cx: &Ctxt, attr: &Attribute) -> Option<Lifecycle> {
    if !matches!(attr.meta, Meta::List(_)) {
        cx.error_spanned_by(
            attr,
            "`compensate` needs the command it undoes, e.g. `#[compensate(ChargePayment)]`",
        );
        return None;
    }
    match attr.parse_args_with(Path::parse_mod_style) {
        Ok(path) => Some(Lifecycle::Compensate(path)),
        Err(error) => {
            let message =
                format!("{error}; expected one command type, e.g. `#[compensate(ChargePayment)]`");
            cx.syn_error(syn::Error::new(error.span(), message));
            None
        }
    }
}

fn handler(cx: &Ctxt, attr: &Attribute, name: &'static str) -> Option<Lifecycle> {
    let mut role = match name {
        START => Role::Start,
        STOP => Role::Stop,
        _ => Role::Continue,
    };
    let mut correlate = None;
    match &attr.meta {
        Meta::Path(_) => {}
        Meta::NameValue(_) => {
            cx.error_spanned_by(attr, format!("expected `#[{name}]` or `#[{name}(...)]`"));
        }
        Meta::List(_) => {
            let allowed = if name == START {
                START_ARGS
            } else {
                HANDLE_ARGS
            };
            let mut seen = Args::new(name, allowed);
            let result = attr.parse_nested_meta(|meta| {
                let arg = seen.accept(cx, &meta)?;
                if arg == Some(NEW) {
                    role = Role::StartNew;
                    return Ok(());
                }
                let parsed = match arg {
                    Some(CORRELATE) => Correlate::Field(parse_field(&meta, CORRELATE)?),
                    Some(CORRELATE_WITH) => Correlate::With(meta.value()?.parse()?),
                    _ => return Ok(()),
                };
                if correlate.is_some() {
                    cx.error_spanned_by(
                        &meta.path,
                        "`correlate` and `correlate_with` cannot both be given; keep one",
                    );
                }
                correlate = Some(parsed);
                Ok(())
            });
            record(cx, result);
        }
    }
    Some(Lifecycle::Handler { role, correlate })
}

/// Parses every `#[event(...)]` attribute of a derive input.
pub(crate) fn event_args(cx: &Ctxt, attrs: &[Attribute]) -> EventArgs {
    let mut args = EventArgs {
        name: None,
        krate: default_crate(),
    };
    let mut seen = Args::new(EVENT, EVENT_ARGS);
    for attr in attrs.iter().filter(|a| a.path().is_ident(EVENT)) {
        record(
            cx,
            attr.parse_nested_meta(|meta| {
                match seen.accept(cx, &meta)? {
                    Some(NAME) => args.name = Some(parse_name(&meta)?),
                    Some(CRATE) => args.krate = parse_crate(&meta)?,
                    _ => {}
                }
                Ok(())
            }),
        );
    }
    args
}

/// Parses every `#[command(...)]` attribute of a derive input.
pub(crate) fn command_args(cx: &Ctxt, attrs: &[Attribute]) -> CommandArgs {
    let mut args = CommandArgs {
        name: None,
        aggregate: None,
        id: None,
        krate: default_crate(),
    };
    let mut seen = Args::new(COMMAND, COMMAND_ARGS);
    for attr in attrs.iter().filter(|a| a.path().is_ident(COMMAND)) {
        record(
            cx,
            attr.parse_nested_meta(|meta| {
                match seen.accept(cx, &meta)? {
                    Some(NAME) => args.name = Some(parse_name(&meta)?),
                    Some(AGGREGATE) => args.aggregate = Some(meta.value()?.parse()?),
                    Some(ID) => args.id = Some(parse_field(&meta, ID)?),
                    Some(CRATE) => args.krate = parse_crate(&meta)?,
                    _ => {}
                }
                Ok(())
            }),
        );
    }
    args
}
