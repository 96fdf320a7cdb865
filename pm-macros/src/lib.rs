//! Macros of pm-runtime (placeholder while being written).
use proc_macro::TokenStream;

/// Placeholder.
#[proc_macro_attribute]
pub fn process_manager(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
/// Placeholder.
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(_item: TokenStream) -> TokenStream {
    TokenStream::new()
}
/// Placeholder.
#[proc_macro_derive(Command, attributes(command))]
pub fn derive_command(_item: TokenStream) -> TokenStream {
    TokenStream::new()
}
