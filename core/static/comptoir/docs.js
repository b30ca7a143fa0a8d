// Swagger UI for /openapi.json, served from this server (no CDN).
// The token given to "Authorize" stays in the page's memory only.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#ui",
  persistAuthorization: false,
  displayOperationId: true,
  tryItOutEnabled: false,
  // No badge from the public validator service: the page must work offline.
  validatorUrl: null,
});
