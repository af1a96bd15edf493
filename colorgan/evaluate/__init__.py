"""evaluate: scores. The evaluation protocol, metrics (PSNR, SSIM, LPIPS, colourfulness),
FID/KID and their Inception, sample sheets, video metrics. Imports everything below train."""
