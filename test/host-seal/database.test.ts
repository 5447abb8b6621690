// The ESR rule of `up` (host-seal/stack/database.ts): Mattermost goes from one
// Extended Support Release to the next; the release that a database version
// and an image tag would skip is named, and anything `up` cannot read as a
// version (a tag such as latest, a database Mattermost never started on) is
// left alone. The migration itself runs against a real PostgreSQL in
// test/e2e/seal-up-down.e2e.ts.
import t from 'tap';
import { ESRS, skippedEsr } from '../../host-seal/stack/database.js';

t.test('an ESR between the database and the image is named; the first one', async (t) => {
  t.equal(skippedEsr('10.5.0', '11.7.15'), '10.11', '10.5 to 11.7 skips 10.11');
  t.equal(skippedEsr('9.11.2', '11.7.15'), '10.5', 'two skipped: the first is named');
  t.equal(skippedEsr('10.5.4', '10.11.0'), undefined, 'one ESR to the next');
  t.equal(skippedEsr('10.11.9', '11.7.15'), undefined);
  t.equal(skippedEsr('11.7.3', '11.7.15'), undefined, 'a patch of the same ESR');
  t.equal(skippedEsr('10.6.0', '10.11.2'), undefined, 'from a release between ESRs to the next ESR');
  t.equal(skippedEsr('10.6.0', '11.0.0'), '10.11', 'past the next ESR');
  t.equal(skippedEsr('11.7.3', '12.4.0'), undefined);
  t.equal(skippedEsr('11.7.3', '12.9.0'), '12.4');
});

t.test('what is not a version is left alone', async (t) => {
  t.equal(skippedEsr('', '11.7.15'), undefined, 'a database Mattermost never started on');
  t.equal(skippedEsr('10.5.0', 'latest'), undefined, 'a tag that is not a version');
  t.equal(skippedEsr('10.5.0', ''), undefined, 'no tag');
  t.equal(
    skippedEsr('11.7.3', '10.11.0'),
    undefined,
    'going back is not a skip (Mattermost refuses a downgrade itself)',
  );
});

t.test('the ESR list is in order', async (t) => {
  const numbers = ESRS.map((esr) => esr.split('.').map(Number) as [number, number]);
  t.ok(
    numbers.every(
      (v, i) => i === 0 || v[0] > numbers[i - 1]![0] || (v[0] === numbers[i - 1]![0] && v[1] > numbers[i - 1]![1]),
    ),
    ESRS.join(' < '),
  );
  t.ok(ESRS.includes('11.7'), 'the default image is on an ESR');
});
