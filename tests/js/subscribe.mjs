// The graphql-ws client subscribes to a room and prints each `next` payload as a JSON line.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
const [url, token, room, count] = process.argv.slice(2);
const client = createClient({ url, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${token}` }, retryAttempts: 0 });
let got = 0;
const dispose = client.subscribe(
  { query: `subscription ($room: String!) { roomMessages(room: $room) { id content author { id displayName } } }`, variables: { room } },
  {
    next: (v) => { console.log(JSON.stringify(v)); if (++got >= Number(count)) { dispose(); client.dispose(); } },
    error: (e) => { console.error('ERROR', JSON.stringify(e.message ?? e)); process.exit(2); },
    complete: () => { console.log('COMPLETE'); process.exit(0); },
  },
);
client.on('connected', () => console.log('CONNECTED'));
setTimeout(() => { console.error('TIMEOUT'); process.exit(3); }, 20000);
