-- The command center's big screen counts the registrations and visits of a day and of its month
-- so far (issue 19): indexes on the days, so those counts read only the month's rows.
CREATE INDEX persons_registered_on ON persons(registered_on);
CREATE INDEX rental_units_registered_on ON rental_units(registered_on);
CREATE INDEX visits_visited_on ON visits(visited_on);
