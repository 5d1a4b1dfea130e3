// API docs: Swagger UI from the assets this server ships (no CDN), on the app's own OpenAPI document.
"use strict";
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout" });
