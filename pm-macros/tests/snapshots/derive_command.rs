#[automatically_derived]
impl ::pm_runtime::__private::Command for ChargePayment {
    const NAME: &'static str = "ChargePayment";
    const AGGREGATE: &'static str = "payment";
    fn aggregate_id(&self) -> ::std::string::String {
        ::std::string::ToString::to_string(&self.order_id)
    }
}
#[automatically_derived]
impl ::pm_runtime::__private::Command for ReserveStock {
    const NAME: &'static str = "stock.reserve";
    const AGGREGATE: &'static str = "stock";
    fn aggregate_id(&self) -> ::std::string::String {
        ::std::string::ToString::to_string(&self.0)
    }
}
