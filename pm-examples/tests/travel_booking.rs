//! The trip saga under the fixture.
#![allow(clippy::unwrap_used)]

use pm_examples::sagas::travel_booking::*;
use pm_runtime::prelude::*;
use pm_runtime::testing::Fixture;

fn trip() -> String {
    "trip-1".into()
}
fn requested() -> TripRequested {
    TripRequested {
        trip_id: trip(),
        flight: "LH 400".into(),
        hotel: "Hotel Adlon".into(),
        car: "compact".into(),
    }
}

#[test]
fn flight_then_hotel_then_car_then_done() {
    Fixture::<TravelBooking>::new("trip-1")
        .when(requested())
        .expect_commands([BookFlight {
            trip_id: trip(),
            flight: "LH 400".into(),
        }
        .into()])
        .when(FlightBooked { trip_id: trip() })
        .expect_commands([BookHotel {
            trip_id: trip(),
            hotel: "Hotel Adlon".into(),
        }
        .into()])
        .when(HotelBooked { trip_id: trip() })
        .expect_commands([RentCar {
            trip_id: trip(),
            car: "compact".into(),
        }
        .into()])
        .when(CarRented { trip_id: trip() })
        .expect_no_commands()
        .expect_completed();
}

#[test]
fn a_refused_car_cancels_the_hotel_then_the_flight() {
    Fixture::<TravelBooking>::new("trip-1")
        .given((
            requested(),
            FlightBooked { trip_id: trip() },
            HotelBooked { trip_id: trip() },
        ))
        .when_command_fails(RentCar::NAME, DispatchError::Rejected("no car left".into()))
        .expect_compensation([
            CancelHotel {
                trip_id: trip(),
                hotel: "Hotel Adlon".into(),
            }
            .into(),
            CancelFlight {
                trip_id: trip(),
                flight: "LH 400".into(),
            }
            .into(),
        ])
        .expect_compensated()
        .expect_state(|s| assert!(!s.flight_booked && !s.hotel_booked && !s.car_rented));
}

#[test]
fn a_refused_hotel_cancels_only_the_flight() {
    Fixture::<TravelBooking>::new("trip-1")
        .given((requested(), FlightBooked { trip_id: trip() }))
        .when_command_fails(BookHotel::NAME, DispatchError::Rejected("full".into()))
        .expect_compensation([CancelFlight {
            trip_id: trip(),
            flight: "LH 400".into(),
        }
        .into()]);
}

#[test]
fn a_car_service_that_stays_down_ends_in_the_same_cancellations() {
    Fixture::<TravelBooking>::new("trip-1")
        .given((
            requested(),
            FlightBooked { trip_id: trip() },
            HotelBooked { trip_id: trip() },
        ))
        .when_command_fails(RentCar::NAME, DispatchError::Unavailable("timeout".into()))
        .expect_retry()
        .when_command_keeps_failing(RentCar::NAME, DispatchError::Unavailable("timeout".into()))
        .expect_compensation([
            CancelHotel {
                trip_id: trip(),
                hotel: "Hotel Adlon".into(),
            }
            .into(),
            CancelFlight {
                trip_id: trip(),
                flight: "LH 400".into(),
            }
            .into(),
        ]);
}

#[test]
fn the_same_trip_cannot_be_requested_twice() {
    Fixture::<TravelBooking>::new("trip-1")
        .given([requested()])
        .when(requested())
        .expect_refused()
        .expect_no_commands()
        .expect_running();
}
