//! The trip saga: book a flight, then a hotel, then a car. When a step is refused, the steps
//! already booked are cancelled newest first: a refused car cancels the hotel, then the
//! flight.

use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

/// A traveller asked for a trip.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct TripRequested {
    /// The trip, and the saga's process id.
    pub trip_id: String,
    /// The flight wanted.
    pub flight: String,
    /// The hotel wanted.
    pub hotel: String,
    /// The car wanted.
    pub car: String,
}
/// The airline booked the flight.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct FlightBooked {
    /// The trip.
    pub trip_id: String,
}
/// The hotel booked a room.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct HotelBooked {
    /// The trip.
    pub trip_id: String,
}
/// The rental company reserved the car.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct CarRented {
    /// The trip.
    pub trip_id: String,
}

/// Book a seat on a flight.
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "airline", id = trip_id)]
pub struct BookFlight {
    /// The trip.
    pub trip_id: String,
    /// The flight.
    pub flight: String,
}
/// Cancel a booked flight (the undo of [`BookFlight`]).
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "airline", id = trip_id)]
pub struct CancelFlight {
    /// The trip.
    pub trip_id: String,
    /// The flight.
    pub flight: String,
}
/// Book a hotel room.
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "hotel", id = trip_id)]
pub struct BookHotel {
    /// The trip.
    pub trip_id: String,
    /// The hotel.
    pub hotel: String,
}
/// Cancel a booked room (the undo of [`BookHotel`]).
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "hotel", id = trip_id)]
pub struct CancelHotel {
    /// The trip.
    pub trip_id: String,
    /// The hotel.
    pub hotel: String,
}
/// Rent a car.
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "car_rental", id = trip_id)]
pub struct RentCar {
    /// The trip.
    pub trip_id: String,
    /// The car.
    pub car: String,
}

/// The saga's state: what the trip asks for and what is booked.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TravelBooking {
    /// The hotel asked for.
    pub hotel: String,
    /// The car asked for.
    pub car: String,
    /// Whether the flight is booked (and not cancelled).
    pub flight_booked: bool,
    /// Whether the hotel is booked (and not cancelled).
    pub hotel_booked: bool,
    /// Whether the car is rented.
    pub car_rented: bool,
}

#[process_manager(
    name = "travel_booking",
    correlate = trip_id,
    commands(BookFlight, CancelFlight, BookHotel, CancelHotel, RentCar)
)]
impl TravelBooking {
    #[start(new)]
    fn requested(&mut self, e: &TripRequested) -> BookFlight {
        self.hotel = e.hotel.clone();
        self.car = e.car.clone();
        BookFlight {
            trip_id: e.trip_id.clone(),
            flight: e.flight.clone(),
        }
    }

    #[handle]
    fn flight_booked(&mut self, e: &FlightBooked) -> BookHotel {
        self.flight_booked = true;
        BookHotel {
            trip_id: e.trip_id.clone(),
            hotel: self.hotel.clone(),
        }
    }

    #[handle]
    fn hotel_booked(&mut self, e: &HotelBooked) -> RentCar {
        self.hotel_booked = true;
        RentCar {
            trip_id: e.trip_id.clone(),
            car: self.car.clone(),
        }
    }

    #[stop]
    fn car_rented(&mut self, _e: &CarRented) {
        self.car_rented = true;
    }

    #[compensate(BookFlight)]
    fn cancel_flight(&mut self, c: &BookFlight) -> CancelFlight {
        self.flight_booked = false;
        CancelFlight {
            trip_id: c.trip_id.clone(),
            flight: c.flight.clone(),
        }
    }

    #[compensate(BookHotel)]
    fn cancel_hotel(&mut self, c: &BookHotel) -> CancelHotel {
        self.hotel_booked = false;
        CancelHotel {
            trip_id: c.trip_id.clone(),
            hotel: c.hotel.clone(),
        }
    }
}
