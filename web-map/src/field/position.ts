/**
 * The phone's position for a field write (a visit, a person, a hazard): the server flags a write
 * made far from its building for the supervisor.
 */

/** Where the phone is, when the user has allowed it; never waited for longer than a moment. */
export async function position(): Promise<{ lon: number; lat: number; accuracy_m: number } | undefined> {
  if (!navigator.geolocation || !navigator.permissions) return undefined;
  try {
    if ((await navigator.permissions.query({ name: 'geolocation' })).state !== 'granted') return undefined;
  } catch {
    return undefined;
  }
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lon: p.coords.longitude, lat: p.coords.latitude, accuracy_m: p.coords.accuracy }),
      () => resolve(undefined),
      { timeout: 2_000, maximumAge: 60_000 },
    );
  });
}
