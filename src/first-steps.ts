/**
 * The commands that take an empty pharmid to a first sign-in: the start
 * banner prints them, and README.md's "A first sign-in, step by step" shows
 * the same lines (a test holds the two together). They end in the demo
 * portal (examples/portal/), registered with its logout URIs, so a newcomer
 * sees the sign-in, single sign-on and single logout with nothing to write.
 */
export function firstSteps(issuer: string, port: number): string[] {
  const portal = `http://localhost:${port + 1}`;
  return [
    'npm run --silent pharmid -- site add --ods FA123 --name "High Street Pharmacy"',
    'npm run --silent pharmid -- user add --email ann@example.nhs.uk --name "Ann Smith" --site FA123 --role site-admin',
    `npm run --silent pharmid -- client add --name PharmOutcomes --redirect-uri ${portal}/callback --post-logout-redirect-uri ${portal}/signed-out --backchannel-logout-uri ${portal}/backchannel-logout --first-party`,
    `ISSUER=${issuer} CLIENT_ID=<client_id> CLIENT_SECRET=<client_secret> PORTAL_NAME=PharmOutcomes PORT=${port + 1} npm run --silent portal`,
  ];
}
