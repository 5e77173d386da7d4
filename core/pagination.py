from rest_framework.pagination import PageNumberPagination


class PagePagination(PageNumberPagination):
    """?page=N&page_size=M (at most 500): simple to script against, counts included."""

    page_size_query_param = "page_size"
    max_page_size = 500
