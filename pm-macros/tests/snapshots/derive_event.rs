#[automatically_derived]
impl ::pm_runtime::__private::Event for OrderPlaced {
    const NAME: &'static str = "OrderPlaced";
}
#[automatically_derived]
impl rt::__private::Event for Shipped {
    const NAME: &'static str = "order.shipped";
}
