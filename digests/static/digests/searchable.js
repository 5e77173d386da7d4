// The audience form's searchable multiple selects (digests/widgets.py), on the Select2 the Django
// admin ships for its autocomplete fields, in the admin's own Select2 theme. A select with
// data-tags also takes what is typed (companies: any name or domain) and suggests known entries
// from its data-suggest-url.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const $ = django.jQuery;
  $("select.cp-searchable").each(function () {
    const select = $(this);
    const suggestions = select.data("suggestUrl");
    select.select2({
      theme: "admin-autocomplete",
      width: "32em",
      placeholder: select.data("placeholder"),
      allowClear: false,
      tags: Boolean(select.data("tags")),
      ajax: suggestions
        ? { url: suggestions, dataType: "json", delay: 200, data: (params) => ({ term: params.term || "" }) }
        : undefined,
    });
  });
});
