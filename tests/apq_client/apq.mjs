// Apollo Client with its persisted-query link (APQ, hashed queries over GET)
// against a Comptoir /graphql. Usage: node apq.mjs URL
// Runs the same query twice and a mutation once, prints one JSON line:
// {"results": [...], "requests": [{"method", "hash", "query"}...]}.
import { createHash } from 'node:crypto';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client/core/index.js';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries/index.js';

const url = process.argv[2];
const token = process.argv[3];
const requests = [];

async function recordingFetch(input, init = {}) {
  const target = new URL(String(input));
  const body = init.body ? JSON.parse(init.body) : null;
  const extensions = body ? body.extensions : JSON.parse(target.searchParams.get('extensions') || 'null');
  requests.push({
    method: init.method || 'GET',
    hash: extensions?.persistedQuery?.sha256Hash ?? null,
    query: Boolean(body ? body.query : target.searchParams.get('query')),
  });
  return fetch(input, init);
}

const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const link = createPersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
  new HttpLink({
    uri: url,
    fetch: recordingFetch,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  }),
);
const client = new ApolloClient({ link, cache: new InMemoryCache() });

const PRODUCTS = gql`
  query Products {
    products(first: 10) { edges { node { id name price } } }
  }
`;
const CREATE = gql`
  mutation Create($name: String!) {
    createProduct(input: { name: $name, price: "3.50" }) { id name }
  }
`;

const results = [];
results.push((await client.query({ query: PRODUCTS, fetchPolicy: 'network-only' })).data);
results.push((await client.query({ query: PRODUCTS, fetchPolicy: 'network-only' })).data);
if (token) {
  results.push((await client.mutate({ mutation: CREATE, variables: { name: 'Persisted' } })).data);
}
console.log(JSON.stringify({ results, requests }));
