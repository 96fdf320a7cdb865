//! The trip saga end to end: flight, hotel and car, booked one after the other. For `trip-2`
//! no car is left, so the saga cancels what it booked, newest first: the hotel, then the
//! flight.
//!
//! `cargo run -p pm-examples --example travel_booking`
//!
//! The saga is `pm_examples::sagas::travel_booking`; `tests/travel_booking.rs` tests it with
//! the fixture.

use std::sync::Arc;

use pm_examples::sagas::travel_booking::*;
use pm_examples::trace::{Answer, Simulated, publish_all};
use pm_runtime::prelude::*;

/// The airline, the hotel and the rental company: every booking succeeds but the car of
/// `trip-2`; cancellations just succeed.
fn command_side(command: &CommandEnvelope) -> Answer {
    let trip_id = command.aggregate_id.clone();
    if command.is::<RentCar>() && trip_id == "trip-2" {
        return Err(DispatchError::Rejected("no car left".into()));
    }
    Ok(if command.is::<BookFlight>() {
        Some(EventEnvelope::new(FlightBooked { trip_id }))
    } else if command.is::<BookHotel>() {
        Some(EventEnvelope::new(HotelBooked { trip_id }))
    } else if command.is::<RentCar>() {
        Some(EventEnvelope::new(CarRented { trip_id }))
    } else {
        None
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (side, mut incoming) = Simulated::new(command_side);
    let side = Arc::new(side);
    let runtime = Runtime::builder()
        .dispatcher(Arc::clone(&side))
        .register::<TravelBooking>()
        .start()
        .await?;

    for (trip_id, flight, hotel) in [
        ("trip-1", "LH 400", "Hotel Adlon"),
        ("trip-2", "AF 1234", "Le Meurice"),
    ] {
        side.emit(TripRequested {
            trip_id: trip_id.into(),
            flight: flight.into(),
            hotel: hotel.into(),
            car: "compact".into(),
        })?;
    }
    publish_all::<TravelBooking>(&runtime, &mut incoming, "trip_id").await?;

    println!();
    for trip_id in ["trip-1", "trip-2"] {
        let status = runtime.status::<TravelBooking>(trip_id).await?;
        println!("saga travel_booking/{trip_id}: {status}");
    }
    runtime.shutdown().await?;
    Ok(())
}
