// The admin's previews of a message as its recipients get it (digests/templates/admin/digests/).
"use strict";

// An email in a sandboxed iframe (same origin, no scripts) is as tall as its content: no cut rows.
function sizeEmailFrame(frame) {
  const page = frame.contentDocument && frame.contentDocument.documentElement;
  if (!page) return;
  frame.style.height = "0px"; // so a wider window can shrink it again
  frame.style.height = `${page.scrollHeight + 2}px`;
}

document.querySelectorAll("iframe.email-preview").forEach((frame) => {
  frame.addEventListener("load", () => sizeEmailFrame(frame));
  if (frame.contentDocument && frame.contentDocument.readyState === "complete") sizeEmailFrame(frame);
  window.addEventListener("resize", () => sizeEmailFrame(frame));
});

// The Teams message's cards, rendered by the Adaptive Cards renderer the tests use (vendor/).
const message = document.getElementById("teams-message");
const host = document.getElementById("teams-card");
if (message && host && window.AdaptiveCards) {
  for (const attachment of JSON.parse(message.textContent).attachments || []) {
    const card = new AdaptiveCards.AdaptiveCard();
    card.parse(attachment.content);
    host.appendChild(card.render());
  }
}
