// GraphiQL for Comptoir: every asset comes from this server (no CDN), and
// what GraphiQL remembers (tabs, headers with their bearer token, history)
// goes to sessionStorage, which dies with the tab, never to localStorage.
(function () {
  "use strict";
  var url = window.location.origin + window.location.pathname;
  var subscriptionUrl = url.replace(/^http/, "ws");
  // Queries and mutations go over HTTP; subscriptions over graphql-transport-ws
  // on the same path, with the Headers pane sent as connection_init's payload
  // (the server reads `Authorization` there).
  var fetcher = GraphiQL.createFetcher({ url: url, subscriptionUrl: subscriptionUrl });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      storage: window.sessionStorage,
      shouldPersistHeaders: true,
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: true,
      inputValueDeprecation: true,
      defaultQuery:
        '# Log in, then put {"Authorization": "Bearer <accessToken>"} in Headers below.\n' +
        'mutation { login(email: "test@test.com", password: "supersecret") { accessToken } }\n',
    })
  );
})();
