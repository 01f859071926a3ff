"""Pictures the bot sends: QR codes, the member's card and charts, Persian text shaped right."""

from bot.images.card import member_card_png
from bot.images.chart import stacked_png
from bot.images.chart_bar import bar_chart_png
from bot.images.chart_line import line_chart_png
from bot.images.qr import qr_png

__all__ = ["member_card_png", "qr_png"]
__all__ += ["bar_chart_png", "line_chart_png", "stacked_png"]
